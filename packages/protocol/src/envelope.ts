import { EMPTY_FRAME, isVipSignature, VIP_SIGNATURE, type Frame } from './frames.js';
import { ProtocolError } from './errors.js';

/**
 * A VIP message as an endpoint (agent) sees it: `peer` is the recipient when sending and the
 * sender when receiving; an empty `peer` is the router itself. docs/protocol.md 1.2.
 */
export interface VipMessage {
  readonly peer: Frame;
  readonly user: Frame;
  readonly id: Frame;
  readonly subsystem: Frame;
  readonly args: readonly Frame[];
}

/** A VIP message as the router sees it: who sent it and who it is for. docs/protocol.md 1.3. */
export interface RoutedMessage {
  readonly sender: Frame;
  readonly recipient: Frame;
  readonly user: Frame;
  readonly id: Frame;
  readonly subsystem: Frame;
  readonly args: readonly Frame[];
}

/** Why the router could not route a frame set (Tracker `unroutable` keys, docs/protocol.md 8). */
export type UnroutableReason = 'router probe' | 'too few frames' | 'bad VIP signature' | 'empty subsystem' | 'oversize message';

export type RouterDecodeResult =
  | { readonly kind: 'message'; readonly message: RoutedMessage }
  | { readonly kind: 'probe'; readonly sender: Frame }
  | { readonly kind: 'invalid'; readonly reason: UnroutableReason; readonly sender: Frame | undefined };

/** Frames a DEALER peer writes: `[via?] peer, VIP1, user, id, subsystem, args...`. */
export function encodePeerFrames(message: VipMessage, via?: Frame): Frame[] {
  const out: Frame[] = via ? [via] : [];
  out.push(message.peer, VIP_SIGNATURE, message.user, message.id, message.subsystem);
  for (const a of message.args) out.push(a);
  return out;
}

/** Frames a DEALER peer reads; throws `ProtocolError` on a bad signature or a short message. */
export function decodePeerFrames(frames: readonly Frame[], hasVia = false): VipMessage {
  const o = hasVia ? 1 : 0;
  if (frames.length < o + 5) throw new ProtocolError(`VIP message has ${frames.length} frames; at least ${o + 5} needed`);
  if (!isVipSignature(frames[o + 1])) throw new ProtocolError('bad VIP signature');
  const subsystem = frames[o + 4] as Frame;
  if (subsystem.length === 0) throw new ProtocolError('empty subsystem frame');
  return {
    peer: frames[o] as Frame,
    user: frames[o + 2] as Frame,
    id: frames[o + 3] as Frame,
    subsystem,
    args: frames.slice(o + 5),
  };
}

/**
 * Frames a ROUTER socket reads: `sender, recipient, VIP1, user, id, subsystem, args...`.
 * Never throws; malformed input becomes an `invalid` result with the reason to count.
 * `maxMessageBytes` limits the whole frame set (every frame counted, the sender's included):
 * a message of many frames is as large as one frame of the same total.
 */
export function decodeRouterFrames(frames: readonly Frame[], maxMessageBytes = Infinity): RouterDecodeResult {
  const sender = frames[0];
  if (frames.length === 2 && sender !== undefined && sender.length > 0 && (frames[1] as Frame).length === 0) {
    return { kind: 'probe', sender };
  }
  if (frames.length < 6) return { kind: 'invalid', reason: 'too few frames', sender };
  if (!isVipSignature(frames[2])) return { kind: 'invalid', reason: 'bad VIP signature', sender };
  const subsystem = frames[5] as Frame;
  if (subsystem.length === 0 || isBlank(subsystem)) return { kind: 'invalid', reason: 'empty subsystem', sender };
  if (maxMessageBytes !== Infinity && frameBytes(frames) > maxMessageBytes) return { kind: 'invalid', reason: 'oversize message', sender };
  return {
    kind: 'message',
    message: {
      sender: sender as Frame,
      recipient: frames[1] as Frame,
      user: frames[3] as Frame,
      id: frames[4] as Frame,
      subsystem,
      args: frames.length > 6 ? frames.slice(6) : [],
    },
  };
}

/** Frames a ROUTER socket writes to deliver a message to `to`: `to, from, VIP1, user, id, subsystem, args...`. */
export function encodeRouterFrames(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Frame[] {
  const out: Frame[] = [to, from, VIP_SIGNATURE, user, id, subsystem];
  for (const a of args) out.push(a);
  return out;
}

/** The bytes of a frame set: the sum of its frame lengths. */
export function frameBytes(frames: readonly Frame[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}

function isBlank(f: Frame): boolean {
  for (const b of f) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0b && b !== 0x0c) return false;
  return true;
}

export { EMPTY_FRAME };
