import { describe, expect, it } from 'vitest';
import { parseExternalRpcPayload, textFrame } from '@vip/protocol';
import type { InboundVip } from '../../src/transport/amqp-mapping.js';
import { externalDeadLetter } from '../../src/transport/external-dead-letter.js';

const dead = (platform: string, subsystem: string, trust: InboundVip['trust'] = 'proven'): InboundVip => ({
  message: {
    peer: textFrame('caller'),
    user: textFrame(`${platform}.caller`),
    id: textFrame('7'),
    subsystem: textFrame(subsystem),
    args: [textFrame('{"a":1}')],
  },
  platform,
  senderIdentity: 'caller',
  recipient: 'pz.callee',
  trust,
});
const linked = (p: string) => p === 'pz';

describe('externalDeadLetter: an agent external call nothing on the broker took, for a platform link of the router', () => {
  it("becomes the caller's send_platform to the linked platform (the sender the broker proved, no from_* of its own)", () => {
    const d = externalDeadLetter(dead('pa', 'RPC'), 'pz.callee', 'pa', linked, true);
    expect(d.kind).toBe('send_platform');
    if (d.kind !== 'send_platform') return;
    expect(d.message.peer).toEqual(textFrame('caller'));
    expect(d.message.id).toEqual(textFrame('7'));
    expect(d.message.subsystem).toEqual(textFrame('external_rpc'));
    expect(d.message.args[0]).toEqual(textFrame('send_platform'));
    expect(parseExternalRpcPayload(d.message.args[1]!)).toEqual({
      to_platform: 'pz',
      to_peer: 'callee',
      from_platform: '',
      from_peer: '',
      args: ['{"a":1}'],
    });
  });

  it('an unproven sender where proof is required is not sent (113 as usual); asserted on a shared login is', () => {
    expect(externalDeadLetter(dead('pa', 'RPC', 'anonymous'), 'pz.callee', 'pa', linked, true).kind).toBe('unproven');
    expect(externalDeadLetter(dead('pa', 'RPC', 'asserted'), 'pz.callee', 'pa', linked, false).kind).toBe('send_platform');
  });

  it('everything else keeps the usual dead-letter handling', () => {
    for (const [vip, key, links] of [
      [dead('pa', 'RPC'), 'pz.callee', undefined], // no platform links
      [dead('pa', 'RPC'), 'pq.callee', linked], // no link to that platform
      [dead('pa', 'RPC'), 'pa.callee', linked], // a local peer
      [dead('pa', 'RPC'), 'pz.', linked], // no peer
      [dead('pa', 'pubsub'), 'pz.callee', linked], // not RPC
      [dead('pb', 'RPC'), 'pz.callee', linked], // another instance's message
    ] as const)
      expect(externalDeadLetter(vip, key, 'pa', links, true)).toEqual({ kind: 'none' });
  });
});
