import { EMPTY_FRAME, frameText, textFrame, type Frame, type VipMessage } from '@vip/protocol';
import type { OutgoingMessage } from './subsystem.js';

/** A string or frame as a frame (strings are UTF-8). */
export function toFrame(value: string | Frame | undefined): Frame {
  if (value === undefined) return EMPTY_FRAME;
  return typeof value === 'string' ? (value.length === 0 ? EMPTY_FRAME : textFrame(value)) : value;
}

/**
 * Subsystem names (`RPC`, `pubsub`, `hello`...) and the peers an agent talks to are a handful of
 * strings: their frames are made once instead of on every message. Frames are never written to
 * after creation, so sharing them is safe; the bound only matters for an agent addressing a great
 * many peers (the cache then starts over).
 */
const nameFrames = new Map<string, Frame>();
const MAX_NAME_FRAMES = 256;

function nameFrame(name: string | Frame): Frame {
  if (typeof name !== 'string') return name;
  let frame = nameFrames.get(name);
  if (frame === undefined) {
    if (nameFrames.size >= MAX_NAME_FRAMES) nameFrames.clear();
    frame = toFrame(name);
    nameFrames.set(name, frame);
  }
  return frame;
}

/** An outgoing message as the transport's VipMessage (peer = recipient). */
export function toVipMessage(m: OutgoingMessage): VipMessage {
  return {
    peer: nameFrame(m.peer),
    user: toFrame(m.user),
    id: toFrame(m.id),
    subsystem: nameFrame(m.subsystem),
    args: toFrames(m.args),
  };
}

function toFrames(args: readonly (string | Frame)[]): Frame[] {
  const frames = new Array<Frame>(args.length);
  for (let i = 0; i < args.length; i++) frames[i] = toFrame(args[i]);
  return frames;
}

/** Reply to a received message: same peer and id, empty user. */
export function replyTo(message: VipMessage, subsystem: string, args: readonly (string | Frame)[]): OutgoingMessage {
  return { peer: message.peer, id: message.id, subsystem, args };
}

/**
 * Names (the subsystem frame of inbound messages) as text. The names registered with `add` are
 * matched byte by byte in JavaScript, so the usual message costs no call into the runtime and no
 * new string per message; any other frame is decoded (UTF-8).
 */
export class KnownNames {
  readonly #known: { readonly frame: Frame; readonly name: string }[] = [];

  constructor(names: readonly string[] = []) {
    for (const name of names) this.add(name);
  }

  add(name: string): void {
    this.#known.push({ frame: textFrame(name), name });
  }

  text(frame: Frame): string {
    for (const k of this.#known) if (sameBytes(k.frame, frame)) return k.name;
    return frameText(frame);
  }
}

function sameBytes(a: Frame, b: Frame): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
