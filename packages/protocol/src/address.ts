import { AddressError, KeyError } from './errors.js';
import { decodeKey, encodeKey } from './keys.js';

/**
 * A VIP address URL as VOLTTRON writes it (docs/protocol.md 5.2, `socket.py` Address):
 * `<scheme>://<endpoint>[?name=value&...][#identity]`.
 *
 * Keys are held in VOLTTRON's canonical form (43-char base64url) whatever encoding the text used;
 * `keyToZ85` turns one into what a libzmq socket option takes. `toString()` masks secrets;
 * only the code that connects or binds calls `toUrl({ unmasked: true })`.
 */

export const ADDRESS_SCHEMES = ['tcp', 'ipc', 'inproc'] as const;
export type AddressScheme = (typeof ADDRESS_SCHEMES)[number];

export const AUTH_MECHANISMS = ['NULL', 'PLAIN', 'CURVE'] as const;
export type AuthMechanism = (typeof AUTH_MECHANISMS)[number];

/** The recognised query parameters, in the order `toString()` renders them. */
export interface AddressParams {
  readonly server?: AuthMechanism | undefined;
  readonly domain?: string | undefined;
  readonly serverkey?: string | undefined;
  readonly publickey?: string | undefined;
  readonly secretkey?: string | undefined;
  readonly ipv6?: boolean | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export interface AddressParts extends AddressParams {
  readonly scheme?: AddressScheme | undefined;
  readonly endpoint: string;
  /** Socket identity from the URL fragment; `''` for a bare `#`, undefined when there is no fragment. */
  readonly identity?: string | undefined;
}

const PARAM_ORDER = ['server', 'domain', 'serverkey', 'publickey', 'secretkey', 'ipv6', 'username', 'password'] as const;
type ParamName = (typeof PARAM_ORDER)[number];
const MASKED: ReadonlySet<ParamName> = new Set(['secretkey', 'password']);
const KEY_PARAMS: ReadonlySet<ParamName> = new Set(['serverkey', 'publickey', 'secretkey']);
const IPV6_FALSE_RE = /^(?:0|false|no|off)?$/i;
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s;
const TCP_ENDPOINT_RE = /^([^/]+):(\d{1,5}|\*)$/s;

export class Address implements AddressParts {
  readonly scheme: AddressScheme;
  readonly endpoint: string;
  readonly identity: string | undefined;
  readonly server: AuthMechanism | undefined;
  readonly domain: string | undefined;
  readonly serverkey: string | undefined;
  readonly publickey: string | undefined;
  readonly secretkey: string | undefined;
  readonly ipv6: boolean | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;

  /** Builds an address from parts; keys may use any encoding `decodeKey` accepts. Throws AddressError. */
  constructor(parts: AddressParts) {
    this.scheme = parts.scheme ?? 'tcp';
    if (!(ADDRESS_SCHEMES as readonly string[]).includes(this.scheme)) {
      throw new AddressError(`unsupported address scheme ${JSON.stringify(this.scheme)}; use tcp, ipc or inproc`);
    }
    this.endpoint = checkEndpoint(this.scheme, parts.endpoint);
    this.identity = parts.identity;
    this.server = parts.server === undefined ? undefined : checkServer(parts.server);
    this.domain = parts.domain;
    this.serverkey = normaliseKey('serverkey', parts.serverkey);
    this.publickey = normaliseKey('publickey', parts.publickey);
    this.secretkey = normaliseKey('secretkey', parts.secretkey);
    this.ipv6 = parts.ipv6;
    this.username = parts.username;
    this.password = parts.password;
  }

  /** Parses `<scheme>://<endpoint>[?params][#identity]` (scheme defaults to tcp). Throws AddressError. */
  static parse(text: string): Address {
    if (typeof text !== 'string') throw new AddressError(`an address must be text, got ${typeof text}`);
    if (text.trim() === '') throw new AddressError('an address must not be empty');
    const hash = text.indexOf('#');
    const identity = hash >= 0 ? text.slice(hash + 1) : undefined;
    const beforeHash = hash >= 0 ? text.slice(0, hash) : text;
    const question = beforeHash.indexOf('?');
    const query = question >= 0 ? beforeHash.slice(question + 1) : '';
    const base = question >= 0 ? beforeHash.slice(0, question) : beforeHash;
    const m = SCHEME_RE.exec(base);
    if (!m && base.includes('://')) throw new AddressError(`address ${JSON.stringify(base)} has a malformed scheme`);
    const scheme = (m ? (m[1] as string).toLowerCase() : 'tcp') as AddressScheme;
    const endpoint = m ? (m[2] as string) : base;
    return new Address({ scheme, endpoint, identity, ...parseQuery(query) });
  }

  /** `scheme://endpoint`, without query or fragment (what `query addresses` reports). */
  get base(): string {
    return `${this.scheme}://${this.endpoint}`;
  }

  /** The query parameters that are set, as a plain object. */
  get params(): AddressParams {
    const out: Record<string, unknown> = {};
    for (const name of PARAM_ORDER) if (this[name] !== undefined) out[name] = this[name];
    return out as AddressParams;
  }

  /** A copy with some parts replaced (an `undefined` value removes that parameter). */
  with(changes: Partial<AddressParts>): Address {
    return new Address({ ...this.parts(), ...changes });
  }

  /** `base?query#identity` with `secretkey` and `password` masked as `XXXXX`: safe to log. */
  toString(): string {
    return this.toUrl();
  }

  /** The full URL; secrets are masked unless `unmasked` is set (only for the code that connects or binds). */
  toUrl(options: { unmasked?: boolean } = {}): string {
    const fields: string[] = [];
    for (const name of PARAM_ORDER) {
      const value = this[name];
      if (value === undefined) continue;
      const text = MASKED.has(name) && !options.unmasked ? 'XXXXX' : typeof value === 'boolean' ? String(value) : encodeURIComponent(value);
      fields.push(`${name}=${text}`);
    }
    const query = fields.length > 0 ? `?${fields.join('&')}` : '';
    const fragment = this.identity === undefined ? '' : `#${this.identity}`;
    return `${this.base}${query}${fragment}`;
  }

  toJSON(): string {
    return this.toString();
  }

  private parts(): AddressParts {
    return { scheme: this.scheme, endpoint: this.endpoint, identity: this.identity, ...this.params };
  }
}

function parseQuery(query: string): AddressParams {
  const out: Record<string, unknown> = {};
  for (const field of query.split('&')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq < 0) throw new AddressError(`address parameter ${JSON.stringify(field)} has no value; write name=value`);
    const name = field.slice(0, eq).toLowerCase();
    if (!(PARAM_ORDER as readonly string[]).includes(name)) continue; // unknown parameters are ignored, as VOLTTRON does
    const value = unescape(name, field.slice(eq + 1));
    if (name === 'ipv6') out.ipv6 = !IPV6_FALSE_RE.test(value);
    else if (name === 'server') out.server = checkServer(value);
    else out[name] = value;
  }
  return out as AddressParams;
}

function unescape(name: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch (err) {
    throw new AddressError(`address parameter ${name} has a malformed %-escape`, { cause: err });
  }
}

function checkServer(value: string): AuthMechanism {
  const upper = String(value).toUpperCase();
  if (!(AUTH_MECHANISMS as readonly string[]).includes(upper)) {
    throw new AddressError(`address parameter server=${JSON.stringify(value)} is invalid; use NULL, PLAIN or CURVE`);
  }
  return upper as AuthMechanism;
}

function normaliseKey(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return encodeKey(decodeKey(value));
  } catch (err) {
    if (err instanceof KeyError) throw new AddressError(`address parameter ${name} is not a CURVE key: ${err.message}`, { cause: err });
    throw err;
  }
}

function checkEndpoint(scheme: AddressScheme, endpoint: string): string {
  if (typeof endpoint !== 'string' || endpoint === '') throw new AddressError(`${scheme} address has no endpoint`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f?#]/.test(endpoint))
    throw new AddressError(`${scheme} endpoint ${JSON.stringify(endpoint)} contains a control character, '?' or '#'`);
  if (scheme === 'tcp') {
    const m = TCP_ENDPOINT_RE.exec(endpoint);
    if (!m) throw new AddressError(`tcp endpoint ${JSON.stringify(endpoint)} must be host:port (port may be *, no '/')`);
    if (m[2] !== '*' && Number(m[2]) > 65535) throw new AddressError(`tcp endpoint ${JSON.stringify(endpoint)} has port ${m[2]} > 65535`);
  }
  return endpoint;
}
