import { describe, expect, it } from 'vitest';
import { InvalidPayloadError, textFrame } from '@vip/protocol';
import { decodeArgs } from '../../src/transport/amqp-mapping.js';
import { PROXY_OUTBOUND_IDENTITY, readProxyFrames, viaProxyPublish } from '../../src/transport/proxy-frames.js';

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
});
