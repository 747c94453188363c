import { capabilityRefusal, UnauthorizedError, type Capabilities, type CapabilityMap } from '@vip/protocol';

/** Capabilities of one user (@vip/protocol's model): `{name: null | {param: value | "/regex/"}}`. */
export type UserCapabilities = Capabilities;
/** user id -> capabilities, as `platform.auth` `get_user_to_capabilities` returns it. */
export type { CapabilityMap };

/**
 * VOLTTRON's `@RPC.allow` check (rpc.py `_add_auth_check`) with its texts: @vip/protocol's
 * `capabilityRefusal` over the caller's capabilities and the call's arguments by name (`byName`,
 * or a function giving them, read only when a restriction applies). `allow('')` admits everyone,
 * as in VOLTTRON. Returns the refusal (an UnauthorizedError of the RPC subsystem, which the
 * dispatcher sends as exc_type `volttron.platform.jsonrpc.Error`, exc_args `[-32001, text]`), or
 * undefined when allowed.
 */
export function checkCapabilities(
  method: string,
  required: readonly string[],
  user: string,
  caps: UserCapabilities | undefined,
  byName: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>),
): UnauthorizedError | undefined {
  if (required.length === 1 && required[0] === '') return undefined;
  const refusal = capabilityRefusal(caps, required, typeof byName === 'function' ? byName : () => byName);
  if (refusal === undefined) return undefined;
  const refuse = (text: string) => new UnauthorizedError(text, { subsystem: 'RPC', required, user });
  switch (refusal.reason) {
    case 'missing': {
      const held = caps === undefined ? 'None' : pyRepr(caps);
      return refuse(`method '${method}' requires capabilities ${pySet(required)}, but capability ${held} was provided for user ${user}`);
    }
    case 'no such parameter':
      return refuse(`User ${user} capability is not defined properly. method ${method} does not have a parameter ${refusal.parameter}`);
    case 'parameter': {
      const { parameter: name, allowed, actual } = refusal;
      const only = refusal.pattern ? `${name} matching pattern ${String(allowed)}` : `${name}=${pyStr(allowed)}`;
      return refuse(`User ${user} can call method ${method} only with ${only} but called with ${name}=${pyStr(actual)}`);
    }
  }
}

/** Python `str(x)` for JSON values. */
function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python `repr(x)` for JSON values. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

function pySet(items: readonly string[]): string {
  return `{${[...items].sort().map(pyRepr).join(', ')}}`;
}
