import { describe, expect, it } from 'vitest';
import { CapabilitiesSchema, CapabilityMapSchema, capabilityRefusal, normaliseCapabilities } from '../src/capabilities.js';
import { isRegexText, wholeValueRegex } from '../src/regex-text.js';
import { UnauthorizedError, UNAUTHORIZED_EXC_TYPE } from '../src/unauthorized-error.js';
import { errorArgsFor, errorFromArgs } from '../src/wire-errors.js';

describe('capabilities: one model for every package', () => {
  it("normalises VOLTTRON's forms: a name, a list of names, {name: null | params}, a mixed list, nothing", () => {
    expect(normaliseCapabilities('a')).toEqual({ a: null });
    expect(normaliseCapabilities(['a', 'b'])).toEqual({ a: null, b: null });
    expect(normaliseCapabilities({ a: null, b: { x: 1 } })).toEqual({ a: null, b: { x: 1 } });
    expect(normaliseCapabilities(['a', { a: { x: 1 } }, 'a'])).toEqual({ a: { x: 1 } }); // parameters win
    expect(normaliseCapabilities(null)).toEqual({});
    expect(normaliseCapabilities(undefined)).toEqual({});
    expect(normaliseCapabilities('')).toEqual({});
    expect(CapabilitiesSchema.parse(undefined)).toEqual({});
    expect(CapabilityMapSchema.parse({ u: ['a'], v: { b: null } })).toEqual({ u: { a: null }, v: { b: null } });
    expect(CapabilitiesSchema.safeParse({ a: 1 }).success).toBe(false);
    expect(CapabilitiesSchema.safeParse(7).error?.issues[0]?.message).toMatch(/capabilities must be a string, an object/);
  });

  it('one check: every required name, then the restrictions of the required capabilities against the arguments', () => {
    expect(capabilityRefusal({ a: null }, [])).toBeUndefined();
    expect(capabilityRefusal(undefined, ['a'])).toEqual({ reason: 'missing', missing: ['a'] });
    expect(capabilityRefusal({ a: null }, ['a', 'b'])).toEqual({ reason: 'missing', missing: ['b'] });
    expect(capabilityRefusal(Object.create({ a: null }) as Record<string, null>, ['a'])).toMatchObject({ reason: 'missing' }); // own names only
    const held = { a: { room: '/r1|r2/', n: 1 }, other: { z: 1 } };
    expect(capabilityRefusal(held, ['a'])).toBeUndefined(); // no arguments given: names only (protected topics)
    expect(capabilityRefusal(held, ['a'], () => ({ room: 'r2', n: 1 }))).toBeUndefined();
    expect(capabilityRefusal(held, ['a'], () => ({ room: 'r1x', n: 1 }))).toMatchObject({
      reason: 'parameter',
      parameter: 'room',
      pattern: true,
      actual: 'r1x',
    });
    expect(capabilityRefusal(held, ['a'], () => ({ room: 'r1', n: 1.5 }))).toMatchObject({
      reason: 'parameter',
      parameter: 'n',
      allowed: 1,
      pattern: false,
    });
    expect(capabilityRefusal(held, ['a'], () => ({ room: 'r1' }))).toEqual({
      reason: 'no such parameter',
      capability: 'a',
      parameter: 'n',
    });
    expect(capabilityRefusal({ a: { y: '/(/' } }, ['a'], () => ({ y: '(' }))).toMatchObject({ reason: 'parameter' }); // an invalid pattern allows nothing
    let read = 0;
    expect(capabilityRefusal({ a: null }, ['a'], () => (read++, {}))).toBeUndefined();
    expect(read).toBe(0); // arguments are read only when a restriction applies
  });

  it('/regex/ values: at least two characters between slashes, matched whole', () => {
    expect([isRegexText('/a/'), isRegexText('//'), isRegexText('/'), isRegexText('a/')]).toEqual([true, true, false, false]);
    expect(wholeValueRegex('/a|b/').test('ab')).toBe(false);
    expect(wholeValueRegex('/a|b/').test('b')).toBe(true);
  });
});

describe('UnauthorizedError: one class, both wire forms', () => {
  it('pubsub: the VIP error -32001 | text | peer | subsystem, and back', () => {
    const refusal = new UnauthorizedError('why', { topic: 'foo', required: ['c'], user: 'u' });
    expect(errorArgsFor(refusal).map(String)).toEqual(['-32001', 'why', '', 'pubsub']);
    const back = errorFromArgs(errorArgsFor(refusal));
    expect(back).toBeInstanceOf(UnauthorizedError);
    expect(back).toMatchObject({ code: 'VIP_UNAUTHORIZED', errnum: -32001, detail: 'why', message: 'why', subsystem: 'pubsub' });
  });

  it("RPC: what a dispatcher sends for it is VOLTTRON's jsonrpc.Error with exc_args [-32001, text] (two elements)", () => {
    const refusal = new UnauthorizedError('no', { subsystem: 'RPC' });
    expect(refusal).toMatchObject({ excType: UNAUTHORIZED_EXC_TYPE, excArgs: [-32001, 'no'], errnum: -32001, code: 'VIP_UNAUTHORIZED' });
    expect(new UnauthorizedError('no', { subsystem: 'RPC', excArgs: [-32001, 'no', { d: 1 }] }).excArgs).toEqual([-32001, 'no', { d: 1 }]);
  });
});
