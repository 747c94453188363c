import { EMPTY_FRAME, textFrame, type Frame, type VipMessage } from '@vip/protocol';
import type { OutgoingMessage } from './subsystem.js';

/** A string or frame as a frame (strings are UTF-8). */
export function toFrame(value: string | Frame | undefined): Frame {
  if (value === undefined) return EMPTY_FRAME;
  return typeof value === 'string' ? (value.length === 0 ? EMPTY_FRAME : textFrame(value)) : value;
}

/**
 * Subsystem names are a handful of constants (`RPC`, `pubsub`, `hello`...): their frames are made
 * once instead of on every message. Frames are never written to after creation, so sharing is safe;
 * the bound only matters for a caller inventing names.
 */
const subsystemFrames = new Map<string, Frame>();
const MAX_SUBSYSTEM_FRAMES = 256;

function subsystemFrame(name: string): Frame {
  let frame = subsystemFrames.get(name);
  if (frame === undefined) {
    if (subsystemFrames.size >= MAX_SUBSYSTEM_FRAMES) subsystemFrames.clear();
    frame = toFrame(name);
    subsystemFrames.set(name, frame);
  }
  return frame;
}

/** An outgoing message as the transport's VipMessage (peer = recipient). */
export function toVipMessage(m: OutgoingMessage): VipMessage {
  return {
    peer: toFrame(m.peer),
    user: toFrame(m.user),
    id: toFrame(m.id),
    subsystem: subsystemFrame(m.subsystem),
    args: m.args.map((a) => toFrame(a)),
  };
}

/** Reply to a received message: same peer and id, empty user. */
export function replyTo(message: VipMessage, subsystem: string, args: readonly (string | Frame)[]): OutgoingMessage {
  return { peer: message.peer, id: message.id, subsystem, args };
}
