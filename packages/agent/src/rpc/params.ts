/** Marks keyword arguments in `rpc.call(peer, method, 1, 2, kwargs({ x: 3 }))`. */
export class KwArgs {
  readonly values: Readonly<Record<string, unknown>>;
  constructor(values: Readonly<Record<string, unknown>>) {
    this.values = values;
  }
}

/** Keyword arguments for an RPC call: pass as the last argument of `call`/`notify`. */
export function kwargs(values: Readonly<Record<string, unknown>>): KwArgs {
  return new KwArgs(values);
}

/** Marks the platform of an external call: `rpc.call(peer, method, 1, onPlatform('campus'))`. */
export class OnPlatform {
  readonly platform: string;
  constructor(platform: string) {
    this.platform = platform;
  }
}

/** Call `peer` on another platform (docs/protocol.md 6.3): pass as the very last argument of `call`/`notify`. */
export function onPlatform(platform: string): OnPlatform {
  return new OnPlatform(platform);
}

/**
 * Split call arguments into positional and keyword parts (a trailing `KwArgs` holds the keywords)
 * and the platform of an external call (a trailing `OnPlatform`, after any `KwArgs`).
 */
export function splitCallArgs(args: readonly unknown[]): {
  args: readonly unknown[];
  kwargs: Record<string, unknown> | undefined;
  platform?: string;
} {
  let last = args[args.length - 1];
  let platform: string | undefined;
  if (last instanceof OnPlatform) {
    platform = last.platform;
    args = args.slice(0, -1);
    last = args[args.length - 1];
  }
  const where = platform === undefined ? {} : { platform };
  if (last instanceof KwArgs) return { args: args.slice(0, -1), kwargs: { ...last.values }, ...where };
  // `call`'s rest array is already its own: no copy.
  return { args, kwargs: undefined, ...where };
}

export type ParamKind = 'POSITIONAL_OR_KEYWORD' | 'VAR_POSITIONAL' | 'VAR_KEYWORD';

/** One declared parameter of an exported method; a plain string is POSITIONAL_OR_KEYWORD without default. */
export type ParamSpec =
  | string
  | { readonly name: string; readonly kind?: ParamKind; readonly default?: unknown; readonly annotation?: string };

export interface NormalParam {
  readonly name: string;
  readonly kind: ParamKind;
  readonly hasDefault: boolean;
  readonly default: unknown;
  readonly annotation: string | undefined;
}

export function normalizeParams(specs: readonly ParamSpec[]): NormalParam[] {
  return specs.map((s) =>
    typeof s === 'string'
      ? { name: s, kind: 'POSITIONAL_OR_KEYWORD', hasDefault: false, default: undefined, annotation: undefined }
      : {
          name: s.name,
          kind: s.kind ?? 'POSITIONAL_OR_KEYWORD',
          hasDefault: 'default' in s,
          default: s.default,
          annotation: s.annotation,
        },
  );
}

/** Raised while binding arguments; becomes a -32000 `builtins.TypeError` like Python's. */
export class ParamBindingError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'TypeError';
  }
}

export interface BoundCall {
  /** Arguments for the JavaScript function, in order. */
  readonly callArgs: unknown[];
  /** Every argument by name (capability parameter checks), as Python's `getcallargs`. */
  readonly byName: Record<string, unknown>;
}

/** A call to a method without declared parameters; `byName` is only built when read (capability checks). */
class UndeclaredCall implements BoundCall {
  readonly callArgs: unknown[];
  readonly #args: readonly unknown[];
  readonly #kw: Readonly<Record<string, unknown>>;
  #byName: Record<string, unknown> | undefined;

  constructor(args: readonly unknown[], kw: Readonly<Record<string, unknown>>) {
    this.#args = args;
    this.#kw = kw;
    this.callArgs = hasKeys(kw) ? [...args, { ...kw }] : [...args];
  }

  get byName(): Record<string, unknown> {
    if (this.#byName === undefined) {
      const byName: Record<string, unknown> = { ...this.#kw };
      this.#args.forEach((a, i) => (byName[String(i)] = a));
      this.#byName = byName;
    }
    return this.#byName;
  }
}

function hasKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/**
 * Bind positional and keyword arguments to declared parameters the way Python does. The function
 * receives the named parameters in order, then the VAR_POSITIONAL rest as one array, then the
 * VAR_KEYWORD extras as one object. Without a declaration, positional args pass through and
 * keywords arrive as one trailing object.
 */
export function bindParams(
  method: string,
  declared: readonly NormalParam[] | undefined,
  args: readonly unknown[],
  kw: Readonly<Record<string, unknown>>,
): BoundCall {
  if (!declared) return new UndeclaredCall(args, kw);
  const named = declared.filter((p) => p.kind === 'POSITIONAL_OR_KEYWORD');
  const varPos = declared.find((p) => p.kind === 'VAR_POSITIONAL');
  const varKw = declared.find((p) => p.kind === 'VAR_KEYWORD');
  if (args.length > named.length && !varPos) {
    throw new ParamBindingError(`${method}() takes ${named.length} positional arguments but ${args.length} were given`);
  }
  const byName: Record<string, unknown> = {};
  const values = new Map<string, unknown>();
  named.forEach((p, i) => {
    if (i < args.length) values.set(p.name, args[i]);
  });
  const extraKw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) {
    if (named.some((p) => p.name === k)) {
      if (values.has(k)) throw new ParamBindingError(`${method}() got multiple values for argument '${k}'`);
      values.set(k, v);
    } else if (varKw) {
      extraKw[k] = v;
    } else {
      throw new ParamBindingError(`${method}() got an unexpected keyword argument '${k}'`);
    }
  }
  const missing = named.filter((p) => !values.has(p.name) && !p.hasDefault).map((p) => `'${p.name}'`);
  if (missing.length > 0) {
    throw new ParamBindingError(
      `${method}() missing ${missing.length} required positional argument${missing.length > 1 ? 's' : ''}: ${missing.join(' and ')}`,
    );
  }
  const callArgs: unknown[] = named.map((p) => (values.has(p.name) ? values.get(p.name) : p.default));
  for (const p of named) byName[p.name] = values.has(p.name) ? values.get(p.name) : p.default;
  if (varPos) {
    const rest = args.slice(named.length);
    callArgs.push(rest);
    byName[varPos.name] = rest;
  }
  if (varKw) {
    callArgs.push(extraKw);
    byName[varKw.name] = extraKw;
  }
  return { callArgs, byName };
}
