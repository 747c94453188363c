import { describe, expect, it } from 'vitest';
import { InvalidPayloadError, textFrame } from '@vip/protocol';
import { decodeArgs } from '../../src/transport/amqp-mapping.js';
import {
  PROXY_OUTBOUND_FRAME,
  PROXY_OUTBOUND_IDENTITY,
  proxyFrameListBody,
  readProxyFrames,
  viaProxyPublish,
} from '../../src/transport/proxy-frames.js';
import { PublishCache } from '../../src/transport/publish-cache.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe("viaProxyPublish / readProxyFrames: VOLTTRON's send_via_proxy frame list, byte-exact", () => {
  it('addresses the proxy inbox with the whole ZeroMQ frame list as the body', () => {
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const jsonLooking = b('{"jsonrpc": "2.0", "id": 1}');
    const msg = {
      peer: b('zmq.agent'),
      user: b('v1.alice'),
      id: Buffer.from([0x84, 0x2d, 0xd6, 0x4e]),
      subsystem: b('RPC'),
      args: [binary, jsonLooking, b('café'), b('')],
    };
    const p = viaProxyPublish(msg, { instance: 'v1', identity: 'alice' }, 'v1.alice');
    expect(p.routingKey).toBe(`v1.${PROXY_OUTBOUND_IDENTITY}`);
    expect(p.properties).toMatchObject({ appId: 'v1.alice', type: 'RPC', userId: 'v1.alice' });
    const frames = decodeArgs(p.content);
    if (frames instanceof InvalidPayloadError) throw frames;
    const read = readProxyFrames(frames);
    if (read instanceof InvalidPayloadError) throw read;
    expect(read.recipient).toEqual(b('zmq.agent'));
    expect(read.sender).toEqual(b('alice'));
    expect(read.user).toEqual(b('v1.alice'));
    expect(read.subsystem).toEqual(b('RPC'));
    expect(read.args).toEqual([binary, jsonLooking, b('café'), b('')]);
  });
  it('refuses what is not a frame list for a peer', () => {
    const ok = [b('p'), b('s'), textFrame('VIP1'), b(''), b('1'), b('RPC')];
    expect(readProxyFrames(ok)).not.toBeInstanceOf(InvalidPayloadError);
    expect(readProxyFrames(ok.slice(0, 5))).toBeInstanceOf(InvalidPayloadError);
    expect(readProxyFrames([b('p'), b('s'), b('VIP2'), ...ok.slice(3)])).toBeInstanceOf(InvalidPayloadError);
    expect(readProxyFrames([b(''), ...ok.slice(1)])).toBeInstanceOf(InvalidPayloadError);
    expect(readProxyFrames([...ok.slice(0, 5), b('')])).toBeInstanceOf(InvalidPayloadError);
  });
  it("RmqConnection's cached form (PublishCache with the frame list as body) is viaProxyPublish's publish, byte for byte", () => {
    const ctx = { instance: 'v1', identity: 'alice' };
    const cache = new PublishCache(ctx, b('v1.alice'), 'v1.alice');
    const messages = [
      { peer: b('zmq.agent'), user: b('v1.alice'), id: b('1'), subsystem: b('RPC'), args: [b('{"jsonrpc": "2.0"}')] },
      { peer: b('zmq.agent'), user: b('v1.alice'), id: Buffer.from([0x84, 0x2d]), subsystem: b('RPC'), args: [Buffer.from([0xff, 0x00])] },
      { peer: b('zmq.other'), user: b('v1.bob'), id: b('x'), subsystem: b('pubsub'), args: [b('café'), b('')] },
    ];
    // twice: the first publish of a shape goes through vipToAmqp, the next ones through the cache
    for (const m of [...messages, ...messages]) {
      const cached = cache.toAmqp({ ...m, peer: PROXY_OUTBOUND_FRAME }, proxyFrameListBody(m, b('alice')));
      const reference = viaProxyPublish(m, ctx, 'v1.alice');
      expect(cached).toEqual(reference);
      expect(cached.content.equals(reference.content)).toBe(true);
    }
  });
});
