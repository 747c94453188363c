/** Python's `repr` of a str, as `str(KeyError(text))` shows it. */
function pyStrRepr(text: string): string {
  if (text.includes("'") && !text.includes('"')) return `"${text.replace(/\\/g, '\\\\')}"`;
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A configuration (or a whole store) that does not exist. On the wire it travels as VOLTTRON's
 * `KeyError`: detail `str(KeyError(text))` (the text in quotes), exc_args `[text]`.
 */
export class ConfigNotFoundError extends Error {
  readonly code = 'VIP_CONFIG_NOT_FOUND';
  readonly excType = 'builtins.KeyError';
  readonly excArgs: readonly unknown[];
  readonly identity: string;
  readonly configName: string;
  constructor(identity: string, configName: string) {
    // VOLTTRON's text, typo included: Python agents and tests match on it.
    const text = `No configuration file "${configName}" for VIP IDENTIY ${identity}`;
    super(pyStrRepr(text));
    this.name = 'ConfigNotFoundError';
    this.excArgs = [text];
    this.identity = identity;
    this.configName = configName;
  }
}

/** Contents that do not parse as their declared type (bad JSON, a JSON scalar, an unknown type). */
export class ConfigContentError extends Error {
  readonly code = 'VIP_CONFIG_CONTENT';
  /** `json.decoder.JSONDecodeError` for JSON text that does not parse, `builtins.ValueError` otherwise (as VOLTTRON raises). */
  readonly excType: string;
  readonly excArgs: readonly unknown[];
  constructor(message: string, excType = 'builtins.ValueError', options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigContentError';
    this.excType = excType;
    this.excArgs = [message];
  }
}

/**
 * A `<identity>.store` file that cannot be read or does not hold a store: the platform refuses to
 * start rather than serve (and later overwrite) an empty store in its place.
 */
export class StoreFileError extends Error {
  readonly code = 'VIP_CONFIG_STORE_FILE';
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`configuration store file ${path}: ${reason}`, options);
    this.name = 'StoreFileError';
    this.path = path;
  }
}

/** A write the store refused before touching the disk (over its byte limit). */
export class StoreLimitError extends Error {
  readonly code = 'VIP_CONFIG_STORE_LIMIT';
  readonly excType = 'builtins.ValueError';
  readonly excArgs: readonly unknown[];
  constructor(message: string) {
    super(message);
    this.name = 'StoreLimitError';
    this.excArgs = [message];
  }
}

/** An identity that cannot name a store file (a path separator, `.`/`..`, NUL, empty or too long). */
export class StoreIdentityError extends Error {
  readonly code = 'VIP_CONFIG_STORE_IDENTITY';
  readonly excType = 'builtins.ValueError';
  readonly excArgs: readonly unknown[];
  constructor(identity: string) {
    super(`invalid identity for a configuration store: ${JSON.stringify(identity)}`);
    this.name = 'StoreIdentityError';
    this.excArgs = [this.message];
  }
}
