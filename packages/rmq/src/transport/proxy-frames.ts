import { InvalidPayloadError, isVipSignature, textFrame, type Frame, type VipMessage } from '@vip/protocol';
import { encodeArgs, vipToAmqp, type AmqpPublish, type MappingContext } from './amqp-mapping.js';

/**
 * What RabbitMQ agents send VOLTTRON's ZeroMQ proxy router (docs/protocol.md 6.5): a message for a
 * peer announced on the `zmq` bus goes to the proxy's inbox `<instance>.proxy.router.zmq.outbound.subsystem`
 * as the complete ZeroMQ frame list `[recipient, sender, VIP1, user, id, subsystem, args...]` in a
 * JSON array body (VOLTTRON's `send_via_proxy`); the proxy writes it on its ROUTER socket. Frames
 * are carried as encodeArgs carries arguments (UTF-8 text as strings, binary tagged), so every
 * byte arrives as sent. Pure: no I/O.
 */

/** The proxy's inbox identity: its routing key is `<instance>.proxy.router.zmq.outbound.subsystem`. */
export const PROXY_OUTBOUND_IDENTITY = 'proxy.router.zmq.outbound.subsystem';
const VIP1 = textFrame('VIP1');

/** The inbox's identity frame: the VIP peer a message through the proxy is published to. */
export const PROXY_OUTBOUND_FRAME: Frame = textFrame(PROXY_OUTBOUND_IDENTITY);

/** The publish of `message` (peer = a ZeroMQ peer) sent through the proxy by `ctx`, with `userId` as the AMQP user_id. */
export function viaProxyPublish(message: VipMessage, ctx: MappingContext, userId?: string): AmqpPublish {
  const toProxy = vipToAmqp({ ...message, peer: PROXY_OUTBOUND_FRAME, args: [] }, ctx, userId === undefined ? {} : { userId });
  return { ...toProxy, content: proxyFrameListBody(message, textFrame(ctx.identity)) };
}

/**
 * The body of `message` through the proxy: the frame list `[recipient, sender, VIP1, user, id,
 * subsystem, args...]` as encodeArgs writes it (only the body: the publish's properties are those
 * of a message to PROXY_OUTBOUND_FRAME, see RmqConnection's PublishCache).
 */
export function proxyFrameListBody(message: VipMessage, sender: Frame): Buffer {
  return encodeArgs([message.peer, sender, VIP1, message.user, message.id, message.subsystem, ...message.args]);
}

/** A frame list sent to the proxy, read: who it is for and what the sender says it is. */
export interface ProxyFrames {
  readonly recipient: Frame;
  /** The sender frame the publisher wrote: believed only when it is the sender the broker proved. */
  readonly sender: Frame;
  readonly user: Frame;
  readonly id: Frame;
  readonly subsystem: Frame;
  readonly args: readonly Frame[];
}

/** The frame list of a proxy body (already decoded to frames); an InvalidPayloadError when it is not one. */
export function readProxyFrames(frames: readonly Frame[]): ProxyFrames | InvalidPayloadError {
  const [recipient, sender, signature, user, id, subsystem, ...args] = frames;
  if (recipient === undefined || sender === undefined || user === undefined || id === undefined || subsystem === undefined) {
    return new InvalidPayloadError('proxy frame list', `${frames.length} frames, at least 6 expected`);
  }
  if (!isVipSignature(signature)) return new InvalidPayloadError('proxy frame list', 'third frame is not VIP1');
  if (recipient.length === 0)
    return new InvalidPayloadError('proxy frame list', 'empty recipient (router messages do not go through the proxy)');
  if (subsystem.length === 0) return new InvalidPayloadError('proxy frame list', 'empty subsystem');
  return { recipient, sender, user, id, subsystem, args };
}
