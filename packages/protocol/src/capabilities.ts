import { z } from 'zod';
import { pythonJson } from './python-json.js';
import { isRegexText, wholeValueRegex } from './regex-text.js';

/**
 * The one capability model of vip (auth.json, `platform.auth`'s `get_user_to_capabilities` and
 * `auth.update`, pubsub's `auth_update`, RPC `allow` checks, protected topics, RabbitMQ topic
 * permissions): VOLTTRON's forms in, one normalised form out, one check.
 */

/** A capability's parameter restrictions: `{param: value | "/regex/"}` (RPC `allow` checks). */
export type CapabilityParams = Readonly<Record<string, unknown>>;
/** A user's capabilities, normalised: `{name: null | {param: value}}`. */
export type Capabilities = Readonly<Record<string, CapabilityParams | null>>;
/** user id -> capabilities, normalised (`get_user_to_capabilities`). */
export type CapabilityMap = Readonly<Record<string, Capabilities>>;
/**
 * Capabilities as VOLTTRON writes them: a name, a list of names, `{name: null | {param: value}}`,
 * or a list mixing names and such objects; null or absent for none.
 */
export type CapabilitiesInput = string | Capabilities | ReadonlyArray<string | Capabilities> | null | undefined;
/** user id -> capabilities in any of VOLTTRON's forms (the body of pubsub's `auth_update`). */
export type CapabilityMapInput = Readonly<Record<string, CapabilitiesInput>>;

const CapabilityParamsSchema = z.union([z.record(z.string(), z.unknown()), z.null()], {
  error: 'a capability maps to null or to an object of parameters',
});
const CapabilityDictSchema = z.record(z.string(), CapabilityParamsSchema);

/** VOLTTRON's forms, validated and kept as written. */
export const CapabilitiesInputSchema = z.union(
  [z.string(), CapabilityDictSchema, z.array(z.union([z.string(), CapabilityDictSchema])), z.null()],
  { error: 'capabilities must be a string, an object {name: null | {param: value}} or a list of those' },
);

/** VOLTTRON's forms (absent too), normalised to `{name: null | {param: value}}`. */
export const CapabilitiesSchema = CapabilitiesInputSchema.optional().transform((value) => normaliseCapabilities(value));

/** user id -> capabilities in any of VOLTTRON's forms, normalised. */
export const CapabilityMapSchema = z.record(
  z.string(),
  CapabilitiesInputSchema.transform((value) => normaliseCapabilities(value)),
);

/**
 * `{name: null | {param: value}}` from any of VOLTTRON's forms, merged into `into` (a fresh
 * object by default): a capability with parameters wins over the same one without.
 */
export function normaliseCapabilities(
  value: CapabilitiesInput,
  into: Record<string, CapabilityParams | null> = {},
): Record<string, CapabilityParams | null> {
  if (value === null || value === undefined || value === '') return into;
  const items: ReadonlyArray<string | Capabilities> = Array.isArray(value) ? value : [value as string | Capabilities];
  for (const item of items) {
    const dict: Capabilities = typeof item === 'string' ? { [item]: null } : item;
    for (const [name, params] of Object.entries(dict)) {
      if (params !== null || !Object.hasOwn(into, name)) into[name] = params;
    }
  }
  return into;
}

/** Why a capability check refused, for the caller to word as VOLTTRON does. */
export type CapabilityRefusal =
  | { readonly reason: 'missing'; readonly missing: readonly string[] }
  /** A restriction names a parameter the call does not have. */
  | { readonly reason: 'no such parameter'; readonly capability: string; readonly parameter: string }
  /** An argument outside a restriction: not equal to `allowed`, or (a `/regex/` `allowed`) not matching it whole. */
  | {
      readonly reason: 'parameter';
      readonly capability: string;
      readonly parameter: string;
      readonly allowed: unknown;
      readonly actual: unknown;
      readonly pattern: boolean;
    };

/**
 * The one capability check (VOLTTRON's `@RPC.allow` check and its protected-topic check): `held`
 * must include every `required` capability; with `args` (the call's arguments by name, read only
 * when a restriction applies), every parameter restriction of a required capability must hold:
 * the argument equal to the value (compared as Python's JSON text), or for a `/regex/` value a
 * string matching it whole (an invalid pattern allows nothing). Undefined when allowed.
 */
export function capabilityRefusal(
  held: Capabilities | undefined,
  required: readonly string[],
  args?: () => Readonly<Record<string, unknown>>,
): CapabilityRefusal | undefined {
  const missing = required.filter((name) => held === undefined || !Object.hasOwn(held, name));
  if (missing.length > 0) return { reason: 'missing', missing };
  if (args === undefined || held === undefined) return undefined;
  let byName: Readonly<Record<string, unknown>> | undefined;
  for (const [capability, restrictions] of Object.entries(held)) {
    if (!restrictions || !required.includes(capability)) continue;
    for (const [parameter, allowed] of Object.entries(restrictions)) {
      byName ??= args();
      if (!Object.hasOwn(byName, parameter)) return { reason: 'no such parameter', capability, parameter };
      const actual = byName[parameter];
      const pattern = typeof allowed === 'string' && isRegexText(allowed);
      const ok = pattern ? matchesWhole(allowed, actual) : pythonJson(actual) === pythonJson(allowed);
      if (!ok) return { reason: 'parameter', capability, parameter, allowed, actual, pattern };
    }
  }
  return undefined;
}

function matchesWhole(pattern: string, actual: unknown): boolean {
  if (typeof actual !== 'string') return false;
  try {
    return wholeValueRegex(pattern).test(actual);
  } catch {
    return false; // an invalid pattern allows nothing
  }
}
