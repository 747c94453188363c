/**
 * Frames are opaque byte strings. Identities, message ids and topics stay bytes end to end;
 * the only way to turn one into a map key is `identityKey`, which is bijective (Latin-1),
 * so two different byte strings never collide and no UTF-8 decoding can fail.
 */
export type Frame = Buffer;

/** The 4-byte VIP signature frame. */
export const VIP_SIGNATURE: Frame = Buffer.from('VIP1', 'latin1');

/** The empty frame: "the router" as a peer, "no user", "no id". */
export const EMPTY_FRAME: Frame = Buffer.alloc(0);

/** Text to a frame (UTF-8). Strings we write ourselves (identities, subsystem names) go through here. */
export function textFrame(text: string): Frame {
  return Buffer.from(text, 'utf8');
}

/** A frame as readable text (UTF-8, invalid sequences replaced). For display and for JSON payloads. */
export function frameText(frame: Frame): string {
  return frame.toString('utf8');
}

/** The map key of an identity, topic or id frame: one key per distinct byte string. */
export function identityKey(frame: Frame): string {
  return frame.toString('latin1');
}

/** Inverse of `identityKey`. */
export function frameFromKey(key: string): Frame {
  return Buffer.from(key, 'latin1');
}

/** True when the frame is exactly the VIP signature. */
export function isVipSignature(frame: Frame | undefined): boolean {
  return frame !== undefined && frame.length === 4 && frame[0] === 0x56 && frame[1] === 0x49 && frame[2] === 0x50 && frame[3] === 0x31;
}
