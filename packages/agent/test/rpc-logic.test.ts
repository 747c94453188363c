import { describe, expect, it } from 'vitest';
import { bindParams, normalizeParams, splitCallArgs, kwargs } from '../src/rpc/params.js';
import { checkCapabilities, pyRepr } from '../src/rpc/capabilities.js';
import { decodeQueryValue } from '../src/subsystems/query.js';
import { PendingRequests } from '../src/pending-requests.js';

describe('parameter binding (Python semantics)', () => {
  const p = normalizeParams(['a', { name: 'b', default: 2 }]);
  it('binds positional, keyword, defaults', () => {
    expect(bindParams('f', p, [1], {}).callArgs).toEqual([1, 2]);
    expect(bindParams('f', p, [], { b: 5, a: 1 }).callArgs).toEqual([1, 5]);
    expect(bindParams('f', p, [1], { b: 3 }).byName).toEqual({ a: 1, b: 3 });
  });
  it('rejects like Python with TypeError texts', () => {
    expect(() => bindParams('f', p, [1, 2, 3], {})).toThrow('f() takes 2 positional arguments but 3 were given');
    expect(() => bindParams('f', p, [1], { a: 2 })).toThrow("f() got multiple values for argument 'a'");
    expect(() => bindParams('f', p, [], {})).toThrow("f() missing 1 required positional argument: 'a'");
    expect(() => bindParams('f', p, [1], { z: 1 })).toThrow("f() got an unexpected keyword argument 'z'");
  });
  it('passes *args as one array and **kwargs as one object; undeclared methods get kwargs last', () => {
    const v = normalizeParams(['a', { name: 'rest', kind: 'VAR_POSITIONAL' }, { name: 'kw', kind: 'VAR_KEYWORD' }]);
    expect(bindParams('g', v, [1, 2, 3], { x: 1 }).callArgs).toEqual([1, [2, 3], { x: 1 }]);
    expect(bindParams('h', undefined, [1], { x: 1 }).callArgs).toEqual([1, { x: 1 }]);
    expect(bindParams('h', undefined, [1], {}).callArgs).toEqual([1]);
  });
  it('splits a trailing kwargs marker', () => {
    expect(splitCallArgs([1, kwargs({ a: 1 })])).toEqual({ args: [1], kwargs: { a: 1 } });
    expect(splitCallArgs([{ a: 1 }])).toEqual({ args: [{ a: 1 }], kwargs: undefined });
  });
});

describe('capability checks (VOLTTRON texts)', () => {
  it('requires every capability; no entry prints None', () => {
    expect(checkCapabilities('m', ['a', 'b'], 'u', { a: null }, {})?.message).toBe(
      "method 'm' requires capabilities {'a', 'b'}, but capability {'a': None} was provided for user u",
    );
    expect(checkCapabilities('m', ['a'], 'u', undefined, {})?.message).toContain('capability None was provided for user u');
    expect(checkCapabilities('m', [''], 'u', undefined, {})).toBeUndefined();
    expect(checkCapabilities('m', ['a'], 'u', { a: null }, {})).toBeUndefined();
  });
  it('checks parameter restrictions: equality, anchored regex, missing parameter', () => {
    const caps = { a: { x: 1, room: '/r1|r2/' } };
    expect(checkCapabilities('m', ['a'], 'u', caps, { x: 1, room: 'r2' })).toBeUndefined();
    expect(checkCapabilities('m', ['a'], 'u', caps, { x: 1, room: 'r1x' })?.message).toBe(
      'User u can call method m only with room matching pattern /r1|r2/ but called with room=r1x',
    );
    expect(checkCapabilities('m', ['a'], 'u', caps, { x: 2, room: 'r1' })?.message).toBe(
      'User u can call method m only with x=1 but called with x=2',
    );
    expect(checkCapabilities('m', ['a'], 'u', { a: { y: 1 } }, {})?.message).toBe(
      'User u capability is not defined properly. method m does not have a parameter y',
    );
    expect(checkCapabilities('m', ['a'], 'u', { a: { y: '/(/' } }, { y: '(' })?.message).toContain('matching pattern');
  });
  it('prints Python reprs', () => {
    expect(pyRepr({ a: [true, null, "it's"] })).toBe("{'a': [True, None, 'it\\'s']}");
  });
});

describe('query values and pending requests', () => {
  it('decodes VOLTTRON query frames', () => {
    expect(decodeQueryValue(Buffer.alloc(0))).toBeNull();
    expect(decodeQueryValue(Buffer.from([0x58, 2, 0, 0]))).toBe(600);
    expect(decodeQueryValue(Buffer.from([1]))).toBe(true);
    expect(decodeQueryValue(Buffer.from('["tcp://127.0.0.1:22916"]'))).toEqual(['tcp://127.0.0.1:22916']);
    expect(decodeQueryValue(Buffer.from('9.0.4'))).toBe('9.0.4');
  });
  it('times out, aborts and releases every request', async () => {
    const pending = new PendingRequests();
    const t = pending.add('a', { from: 'p', timeoutMs: 5, operation: 'op a' });
    await expect(t).rejects.toMatchObject({ code: 'VIP_TIMEOUT', message: 'op a timed out after 5 ms' });
    const ac = new AbortController();
    const b = pending.add('b', { from: 'p', timeoutMs: 0, operation: 'op b', signal: ac.signal });
    ac.abort();
    await expect(b).rejects.toMatchObject({ code: 'VIP_CLOSED' });
    const c = pending.add('c', { from: 'p', timeoutMs: 60_000, operation: 'op c' });
    pending.rejectAll(new Error('stopped'));
    await expect(c).rejects.toThrow('stopped');
    expect(pending.size).toBe(0);
    expect(pending.resolve('c', 1, 'p')).toBe('unknown');
  });
});
