import { describe, expect, it } from 'vitest';
import { EMPTY_FRAME, EXTERNAL_RPC_ERROR_CODES, parseExternalRpcPayload, pythonJson, textFrame, type VipMessage } from '@vip/protocol';
import type { InboundVip } from '../../src/transport/amqp-mapping.js';
import { ExternalRpcBridge } from '../../src/transport/external-rpc-bridge.js';

const ctx = { instance: 'pa', identity: 'caller' };
const sendPlatform = (id: string, to_platform: string, to_peer: string, texts: string[]): VipMessage => ({
  peer: EMPTY_FRAME,
  user: EMPTY_FRAME,
  id: textFrame(id),
  subsystem: textFrame('external_rpc'),
  args: [textFrame('send_platform'), textFrame(pythonJson({ to_platform, to_peer, from_platform: '', from_peer: '', args: texts }))],
});
const inbound = (platform: string, sender: string, subsystem: string, id: string, args: string[]): InboundVip => ({
  message: {
    peer: sender === 'router' ? EMPTY_FRAME : textFrame(sender),
    user: textFrame(`${platform}.${sender}`),
    id: textFrame(id),
    subsystem: textFrame(subsystem),
    args: args.map(textFrame),
  },
  platform,
  senderIdentity: sender,
  recipient: 'pa.caller',
  trust: 'asserted',
});
const payloadOf = (m: VipMessage | null) => {
  if (m === null) throw new Error('dropped');
  const p = parseExternalRpcPayload(m.args[1]!);
  if (p instanceof Error) throw p;
  return p;
};

describe('ExternalRpcBridge: external_rpc <-> RPC messages for <platform>.<peer> (docs/protocol.md 7.8)', () => {
  it('send_platform becomes an RPC message to the peer on that platform; local messages pass untouched', () => {
    const bridge = new ExternalRpcBridge(ctx);
    const out = bridge.outbound(sendPlatform('7', 'pb', 'callee', ['{"jsonrpc":"2.0"}']));
    expect(out?.platform).toBe('pb');
    expect(out?.message).toMatchObject({
      peer: textFrame('callee'),
      id: textFrame('7'),
      subsystem: textFrame('RPC'),
      args: [textFrame('{"jsonrpc":"2.0"}')],
    });
    expect(bridge.outstanding).toBe(1);
    expect(bridge.outbound({ ...sendPlatform('8', 'pb', 'x', []), peer: textFrame('someone') })).toBeUndefined();
    const local = inbound('pa', 'other', 'RPC', '9', ['x']);
    expect(bridge.inbound(local)).toBe(local.message);
  });

  it("another instance's RPC is handed on as send_peer from the router, with an empty user (never proven)", () => {
    const bridge = new ExternalRpcBridge(ctx);
    const m = bridge.inbound(inbound('pb', 'callee', 'RPC', '5', ['{"a":1}']));
    expect(m?.peer).toEqual(EMPTY_FRAME);
    expect(m?.user).toEqual(EMPTY_FRAME);
    expect(payloadOf(m)).toEqual({ to_platform: 'pa', to_peer: 'caller', from_platform: 'pb', from_peer: 'callee', args: ['{"a":1}'] });
    // other subsystems from another instance are not carried between platforms
    expect(bridge.inbound(inbound('pb', 'callee', 'pubsub', '5', []))).toBeNull();
  });

  it('113 for an outstanding call: from the local router PLATFORM_UNREACHABLE, from its platform PEER_UNREACHABLE, from another platform nothing', () => {
    const bridge = new ExternalRpcBridge(ctx);
    bridge.outbound(sendPlatform('1', 'nowhere', 'callee', ['{}']));
    const local = payloadOf(bridge.inbound(inbound('pa', 'router', 'error', '1', ['113', 'No route to host', 'nowhere.callee', 'RPC'])));
    expect(local.from_platform).toBe('nowhere');
    expect(JSON.parse(local.args[0]!).error).toMatchObject({
      code: EXTERNAL_RPC_ERROR_CODES.PLATFORM_UNREACHABLE,
      data: { platform: 'nowhere', reason: 'unknown' },
    });
    bridge.outbound(sendPlatform('2', 'pb', 'gone', ['{}']));
    expect(bridge.inbound(inbound('pc', 'router', 'error', '2', ['113', 'No route to host', 'pb.gone', 'RPC']))).toBeNull();
    const remote = payloadOf(bridge.inbound(inbound('pb', 'router', 'error', '2', ['113', 'No route to host', 'pb.gone', 'RPC'])));
    expect(JSON.parse(remote.args[0]!).error).toMatchObject({ code: EXTERNAL_RPC_ERROR_CODES.PEER_UNREACHABLE, data: { peer: 'gone' } });
    expect(bridge.outstanding).toBe(0);
    // an error for an id that is no external call stays what it is
    const other = inbound('pa', 'router', 'error', '3', ['113', 'No route to host', 'pa.x', 'RPC']);
    expect(bridge.inbound(other)).toBe(other.message);
  });

  it('proof required: RPC of another instance only from a sender this broker proved; the rest dropped and counted', () => {
    const bridge = new ExternalRpcBridge(ctx, true);
    expect(bridge.inbound(inbound('pb', 'callee', 'RPC', '5', ['{}']))).toBeNull(); // asserted: app_id alone
    expect(bridge.inbound({ ...inbound('pb', 'callee', 'RPC', '6', ['{}']), trust: 'anonymous' })).toBeNull();
    expect(bridge.unproven).toBe(2);
    expect(payloadOf(bridge.inbound({ ...inbound('pb', 'callee', 'RPC', '7', ['{}']), trust: 'proven' })).from_peer).toBe('callee');
    // the remote router's 113 (never proven across a link) still settles the call it names
    bridge.outbound(sendPlatform('8', 'pb', 'gone', ['{}']));
    expect(bridge.inbound(inbound('pb', 'router', 'error', '8', ['113', 'No route to host', 'pb.gone', 'RPC']))).not.toBeNull();
  });

  it("a call the router carried over its platform link is settled by the router's send_peer", () => {
    const bridge = new ExternalRpcBridge(ctx);
    bridge.outbound(sendPlatform('9', 'pz', 'callee', ['{}']));
    const answer = { ...inbound('pa', 'router', 'external_rpc', '9', ['send_peer', '{}']) };
    expect(bridge.inbound(answer)).toBe(answer.message);
    expect(bridge.outstanding).toBe(0);
  });

  it('keeps at most 4,096 outstanding calls (the oldest dropped)', () => {
    const bridge = new ExternalRpcBridge(ctx);
    for (let i = 0; i < 5_000; i++) bridge.outbound(sendPlatform(String(i), 'pb', 'callee', ['{}']));
    expect(bridge.outstanding).toBe(4_096);
  });
});
