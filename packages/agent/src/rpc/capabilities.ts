import { z } from 'zod';
import { UNAUTHORIZED_EXC_TYPE } from '../errors.js';
import { pythonJson } from '@vip/protocol';

/** Capabilities of one user: `{name: null | {param: value | "/regex/"}}` (auth.json, docs/protocol.md 5.5). */
export type UserCapabilities = Readonly<Record<string, Readonly<Record<string, unknown>> | null>>;
/** user id -> capabilities, as `platform.auth` `get_user_to_capabilities` returns it. */
export type CapabilityMap = Readonly<Record<string, UserCapabilities>>;

export const CapabilityMapSchema = z.record(z.string(), z.record(z.string(), z.union([z.record(z.string(), z.unknown()), z.null()])));

/** A refused capability check: becomes -32000 with exc_type `volttron.platform.jsonrpc.Error`. */
export class CapabilityRefusal extends Error {
  readonly excType = UNAUTHORIZED_EXC_TYPE;
  readonly excArgs: readonly unknown[];
  constructor(detail: string) {
    super(detail);
    this.name = 'CapabilityRefusal';
    this.excArgs = [-32001, detail, null];
  }
}

/**
 * VOLTTRON's `@RPC.allow` check (rpc.py `_add_auth_check`): the caller's capability names must
 * include every required one; parameter restrictions compare the bound arguments for equality
 * or full regex match (`/re/`). Returns the refusal, or undefined when allowed.
 */
export function checkCapabilities(
  method: string, required: readonly string[], user: string, caps: UserCapabilities | undefined, byName: Readonly<Record<string, unknown>>,
): CapabilityRefusal | undefined {
  const names = new Set(Object.keys(caps ?? {}));
  if (required.length === 1 && required[0] === '') return undefined;
  if (!required.every((r) => names.has(r))) {
    return new CapabilityRefusal(
      `method '${method}' requires capabilities ${pySet(required)}, but capability ${caps === undefined ? 'None' : pyRepr(caps)} was provided for user ${user}`,
    );
  }
  for (const [cap, restrictions] of Object.entries(caps ?? {})) {
    if (!restrictions || !required.includes(cap)) continue;
    for (const [name, value] of Object.entries(restrictions)) {
      if (!(name in byName)) {
        return new CapabilityRefusal(`User ${user} capability is not defined properly. method ${method} does not have a parameter ${name}`);
      }
      const actual = byName[name];
      if (typeof value === 'string' && value.length >= 2 && value.startsWith('/') && value.endsWith('/')) {
        let ok = false;
        try {
          ok = typeof actual === 'string' && new RegExp(`^(?:${value.slice(1, -1)})$`).test(actual);
        } catch {
          ok = false; // an invalid pattern allows nothing
        }
        if (!ok) {
          return new CapabilityRefusal(
            `User ${user} can call method ${method} only with ${name} matching pattern ${value} but called with ${name}=${pyStr(actual)}`,
          );
        }
      } else if (pythonJson(actual) !== pythonJson(value)) {
        return new CapabilityRefusal(
          `User ${user} can call method ${method} only with ${name}=${pyStr(value)} but called with ${name}=${pyStr(actual)}`,
        );
      }
    }
  }
  return undefined;
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
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

function pySet(items: readonly string[]): string {
  return `{${[...items].sort().map(pyRepr).join(', ')}}`;
}
