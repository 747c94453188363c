import { describe, expect, it } from 'vitest';
import { EMPTY_FRAME, InvalidPayloadError, jsonFrame, jsonValueFrame, ProtocolError, type VipMessage } from '@vip/protocol';
import { SpoofedSenderError } from '../../src/transport/sender-trust.js';
import { rmqQueryReply } from '../../src/transport/rmq-peerlist-extension.js';
import {
  amqpToVip,
  decodeArgs,
  encodeArgs,
  routingKeyFor,
  splitRoutingKey,
  vipToAmqp,
  checkInstanceName,
} from '../../src/transport/amqp-mapping.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const ctx = { instance: 'v1', identity: 'alice' };
const msg = (o: Partial<VipMessage> = {}): VipMessage => ({
  peer: b('bob'),
  user: b(''),
  id: b('m1'),
  subsystem: b('RPC'),
  args: [b('{"a": 1}')],
  ...o,
});

describe('VIP -> AMQP (docs/protocol.md 7.3)', () => {
  it('maps envelope fields to routing key, app_id, headers, message_id, type', () => {
    const p = vipToAmqp(msg(), ctx, { defaultUser: true });
    expect(p).toEqual({
      exchange: 'volttron',
      routingKey: 'v1.bob',
      content: Buffer.from('["{\\"a\\": 1}"]'),
      properties: {
        appId: 'v1.alice',
        messageId: 'm1',
        type: 'RPC',
        contentType: 'application/json',
        headers: { recipient: 'v1.bob', proto: 'VIP', user: 'v1.alice' },
      },
    });
  });
  it('sends an empty peer to `router`, another platform to `<platform>.<peer>`, keeps a given user', () => {
    expect(vipToAmqp(msg({ peer: b('') }), ctx).routingKey).toBe('v1.router');
    expect(vipToAmqp(msg(), ctx, { platform: 'v2' }).routingKey).toBe('v2.bob');
    expect(vipToAmqp(msg({ user: b('u') }), ctx, { defaultUser: true }).properties.headers.user).toBe('u');
    expect(vipToAmqp(msg(), ctx).properties.headers.user).toBe('');
  });
  it('refuses what AMQP cannot carry with ProtocolError', () => {
    expect(() => vipToAmqp(msg({ peer: b('a*') }), ctx)).toThrow(ProtocolError);
    expect(() => vipToAmqp(msg({ peer: b('\xff') }), ctx)).toThrow(/UTF-8/);
    expect(() => vipToAmqp(msg({ subsystem: b(' ') }), ctx)).toThrow(ProtocolError);
    expect(() => vipToAmqp(msg({ id: Buffer.alloc(200, 0xe9) }), ctx)).toThrow(/255/);
    expect(() => checkInstanceName('a.b')).toThrow(ProtocolError);
  });
  it('round-trips every byte value: UTF-8 text as strings, binary tagged', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const args: Buffer[] = [all, b(''), Buffer.from('café €', 'utf8'), b('{"a": 1}'), b('\x00\x1f')];
    const body = encodeArgs(args);
    expect(JSON.parse(body.toString('utf8'))).toEqual([{ __vip_bytes__: all.toString('base64') }, '', 'café €', '{"a": 1}', '\x00\x1f']);
    expect(decodeArgs(body)).toEqual(args);
  });
});

describe('AMQP -> VIP', () => {
  const delivered = (properties: Record<string, unknown>, content: Buffer = Buffer.from('["x"]'), routingKey = 'v1.bob') =>
    amqpToVip({ content, fields: { routingKey }, properties });
  it('reads what vipToAmqp wrote', () => {
    const p = vipToAmqp(msg({ id: b('\x00\xff') }), ctx, { defaultUser: true });
    const r = delivered(p.properties, p.content);
    expect(r).not.toBeInstanceOf(InvalidPayloadError);
    if (r instanceof InvalidPayloadError) return;
    expect(r.message).toEqual({ peer: b('alice'), user: b('v1.alice'), id: b('\x00\xff'), subsystem: b('RPC'), args: [b('{"a": 1}')] });
    expect(r).toMatchObject({ platform: 'v1', senderIdentity: 'alice', recipient: 'v1.bob' });
  });
  it('reads the router as the empty peer and identities with dots whole', () => {
    const r = delivered({ appId: 'v1.router', type: 'hello' });
    expect(r instanceof InvalidPayloadError ? r : r.message.peer.length).toBe(0);
    const d = delivered({ appId: 'v1.platform.driver', type: 'RPC' });
    expect(d instanceof InvalidPayloadError ? d : d.message.peer.toString()).toBe('platform.driver');
  });
  it('takes Python values in args: strings as UTF-8 text, null as empty, others as JSON text', () => {
    const r = delivered(
      { appId: 'v1.py', type: 'query' },
      Buffer.from(JSON.stringify(['', ['tcp://x'], 600, null, 'é', '€', true, { k: 1 }]), 'utf8'),
    );
    if (r instanceof InvalidPayloadError) throw r;
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    expect(r.message.args).toEqual([b(''), b('["tcp://x"]'), b('600'), b(''), utf8('é'), utf8('€'), b('true'), b('{"k":1}')]);
  });
  it.each([
    [{ type: 'RPC' }, Buffer.from('[]'), /app_id/],
    [{ appId: 'noinstance', type: 'RPC' }, Buffer.from('[]'), /app_id/],
    [{ appId: 'v1.a' }, Buffer.from('[]'), /type/],
    [{ appId: 'v1.a', type: 'RPC', headers: { proto: 'XYZ' } }, Buffer.from('[]'), /proto/],
    [{ appId: 'v1.a', type: 'RPC', headers: { user: 5 } }, Buffer.from('[]'), /headers/],
    [{ appId: 'v1.a', type: 'RPC' }, Buffer.from('{"a":1}'), /JSON array/],
    [{ appId: 'v1.a', type: 'RPC' }, Buffer.from('[1,'), /not JSON/],
  ])('rejects malformed delivery %# with InvalidPayloadError', (props, body, why) => {
    const r = delivered(props, body);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect((r as InvalidPayloadError).message).toMatch(why);
  });
  it('refuses, without throwing, an argument nested deeper than JSON.stringify recurses (it would close the consumer channel)', () => {
    const deep = Buffer.from('['.repeat(20_000) + ']'.repeat(20_000));
    const r = delivered({ appId: 'v1.a', type: 'RPC' }, deep);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect((r as InvalidPayloadError).message).toMatch(/re-serialized/);
    expect(decodeArgs(Buffer.from(JSON.stringify([[[['ok']]]])))).toEqual([b('[[["ok"]]]')]);
  });
  it("refuses a body above the receiver's maxMessageBytes unread", () => {
    const props = { appId: 'v1.a', type: 'RPC' };
    const body = Buffer.from('["12345"]');
    const over = amqpToVip({ content: body, fields: { routingKey: 'v1.bob' }, properties: props }, { maxBytes: body.length - 1 });
    expect(over).toBeInstanceOf(InvalidPayloadError);
    expect((over as InvalidPayloadError).message).toMatch(/exceeds maxMessageBytes/);
    expect(amqpToVip({ content: body, fields: { routingKey: 'v1.bob' }, properties: props }, { maxBytes: body.length })).not.toBeInstanceOf(
      InvalidPayloadError,
    );
  });
  it("with the receiver's instance: a user_id <instance>.<x> must be app_id and becomes the user over the header", () => {
    const p = vipToAmqp(msg({ user: b('v1.bob') }), ctx, { userId: 'v1.alice' });
    expect(p.properties.userId).toBe('v1.alice');
    const at = (properties: Record<string, unknown>) =>
      amqpToVip({ content: p.content, fields: { routingKey: 'v1.bob' }, properties }, { instance: 'v1' });
    const ok = at(p.properties);
    if (ok instanceof InvalidPayloadError) throw ok;
    expect(ok.message.user).toEqual(b('v1.alice')); // the header claimed v1.bob
    expect(ok.verifiedUser).toBe('v1.alice');
    const spoofed = at({ ...p.properties, appId: 'v1.carol' });
    expect(spoofed).toBeInstanceOf(SpoofedSenderError);
    expect((spoofed as SpoofedSenderError).message).toMatch(/published by broker user "v1.alice" claiming to be "v1.carol"/);
    // no proof: the header as before (guest, absent as from Python agents, another instance's user)
    for (const userId of ['guest', undefined, 'v2.alice']) {
      const r = at({ ...p.properties, userId, appId: 'v1.carol' });
      expect(r instanceof InvalidPayloadError ? r : r.message.user).toEqual(b('v1.bob'));
    }
    // without the instance nothing is checked
    const unchecked = amqpToVip({
      content: p.content,
      fields: { routingKey: 'v1.bob' },
      properties: { ...p.properties, appId: 'v1.carol' },
    });
    expect(unchecked instanceof InvalidPayloadError ? unchecked : unchecked.message.user).toEqual(b('v1.bob'));
  });
  it("the platform's router (user_id v1.router) speaks for the caller it names on external_rpc; otherwise it is itself", () => {
    const fromRouter = (user: string, subsystem = 'external_rpc') => {
      const p = vipToAmqp(msg({ user: b(user), subsystem: b(subsystem) }), { instance: 'v1', identity: 'router' }, { userId: 'v1.router' });
      const r = amqpToVip({ content: p.content, fields: { routingKey: 'v1.bob' }, properties: p.properties }, { instance: 'v1' });
      if (r instanceof InvalidPayloadError) throw r;
      return r.message.user.toString();
    };
    // a remote platform's caller handed over by external_rpc (fails before: v1.router)
    expect(fromRouter('v1.plz.zmq.user')).toBe('v1.plz.zmq.user');
    expect(fromRouter('')).toBe('v1.router');
    expect(fromRouter('v1.plz.zmq.user', 'RPC')).toBe('v1.router'); // only external calls are handed over
    // an agent user proves itself only, whatever header it writes
    const p = vipToAmqp(msg({ user: b('v1.plz.zmq.user') }), ctx, { userId: 'v1.alice' });
    const agent = amqpToVip({ content: p.content, fields: { routingKey: 'v1.bob' }, properties: p.properties }, { instance: 'v1' });
    expect(agent instanceof InvalidPayloadError ? agent : agent.message.user.toString()).toBe('v1.alice');
  });
  it('splits routing keys at the first dot', () => {
    expect(splitRoutingKey('v1.a.b')).toEqual({ instance: 'v1', identity: 'a.b' });
    expect(splitRoutingKey('nodot')).toBeUndefined();
    expect(routingKeyFor('v1', '')).toBe('v1.router');
  });
});

describe('JSON values in args (the RMQ query reply, docs/protocol.md 7.5)', () => {
  it('writes a jsonValueFrame as the value it holds and any other JSON text as a string', () => {
    expect(encodeArgs([EMPTY_FRAME, jsonValueFrame(['amqp://h/v']), EMPTY_FRAME]).toString()).toBe('["",["amqp://h/v"],""]');
    expect(encodeArgs([jsonFrame(['x'])]).toString()).toBe('["[\\"x\\"]"]');
    expect(encodeArgs([EMPTY_FRAME, ...rmqQueryReply(null)]).toString()).toBe('["",null,""]');
    expect(encodeArgs([EMPTY_FRAME, ...rmqQueryReply('vip1')]).toString()).toBe('["","vip1",""]');
    expect(encodeArgs([EMPTY_FRAME, ...rmqQueryReply(600)]).toString()).toBe('["",600,""]');
    // a decoded list comes back as its JSON text, which agents parse
    expect(decodeArgs(Buffer.from('["",["a"],""]'))).toEqual([EMPTY_FRAME, Buffer.from('["a"]'), EMPTY_FRAME]);
  });
});
