import { describe, expect, it } from 'vitest';
import { decodePeerFrames, decodeRouterFrames, encodePeerFrames, encodeRouterFrames } from '../src/envelope.js';
import { ProtocolError } from '../src/errors.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('router envelope', () => {
  it('decodes a routable message without copying argument frames', () => {
    const arg = b('{"a": 1}');
    const r = decodeRouterFrames([b('agent'), b('peer'), b('VIP1'), b(''), b('id-1'), b('RPC'), arg]);
    expect(r.kind).toBe('message');
    if (r.kind !== 'message') return;
    expect(r.message.sender.toString()).toBe('agent');
    expect(r.message.recipient.toString()).toBe('peer');
    expect(r.message.args[0]).toBe(arg);
  });
  it('recognises a router probe', () => {
    expect(decodeRouterFrames([b('x'), b('')]).kind).toBe('probe');
  });
  it.each([
    [[b('x'), b(''), b('VIP1')], 'too few frames'],
    [[b('x'), b(''), b('VIP2'), b(''), b(''), b('ping')], 'bad VIP signature'],
    [[b('x'), b(''), b('VIP1'), b(''), b(''), b(' \t')], 'empty subsystem'],
    [[b('x'), b(''), b('VIP1'), b(''), b(''), b('')], 'empty subsystem'],
  ])('drops malformed frame set %# as %s', (frames, reason) => {
    const r = decodeRouterFrames(frames);
    expect(r).toMatchObject({ kind: 'invalid', reason });
  });
  it('flags a frame set larger than the limit, all frames counted', () => {
    const head = [b('x'), b(''), b('VIP1'), b(''), b(''), b('ping')]; // 9 bytes
    expect(decodeRouterFrames([...head, Buffer.alloc(11)], 20)).toMatchObject({ kind: 'message' });
    expect(decodeRouterFrames([...head, Buffer.alloc(12)], 20)).toMatchObject({ kind: 'invalid', reason: 'oversize message' });
    // many frames, none over the limit alone, over it together
    expect(decodeRouterFrames([...head, ...Array.from({ length: 4 }, () => Buffer.alloc(3))], 20)).toMatchObject({
      kind: 'invalid',
      reason: 'oversize message',
    });
  });
  it('encodes a forward with swapped peer frames', () => {
    const f = encodeRouterFrames(b('to'), b('from'), b('from'), b('m'), b('RPC'), [b('x')]);
    expect(f.map((x) => x.toString())).toEqual(['to', 'from', 'VIP1', 'from', 'm', 'RPC', 'x']);
  });
});

describe('peer envelope', () => {
  it('round-trips', () => {
    const m = { peer: b('router'), user: b(''), id: b('1.x'), subsystem: b('ping'), args: [b('ping')] };
    expect(decodePeerFrames(encodePeerFrames(m))).toEqual(m);
  });
  it('handles via frames', () => {
    const m = { peer: b(''), user: b(''), id: b(''), subsystem: b('hello'), args: [] };
    const frames = encodePeerFrames(m, b('router-id'));
    expect(frames[0]?.toString()).toBe('router-id');
    expect(decodePeerFrames(frames, true)).toEqual(m);
  });
  it('rejects a bad signature with ProtocolError', () => {
    expect(() => decodePeerFrames([b(''), b('VIPX'), b(''), b(''), b('ping')])).toThrow(ProtocolError);
  });
});
