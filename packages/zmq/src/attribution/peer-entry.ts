import { frameText, identityKey, type RoutedMessage } from '@vip/protocol';
import type { ZapAdmission } from '../zap-contract.js';
import type { AdmissionRound } from './admission-round.js';

/**
 * - `pending`: its connect notification was tied to an admission of the round still open; what
 *   it sends is held until the round closes;
 * - `attributed`: routed with its admission's user (authentication off: its identity);
 * - `unattributed`: a connection with no user; what it sends is dropped (`unauthenticated`).
 */
export type EntryStatus = 'pending' | 'attributed' | 'unattributed';

/** An empty frame read while unexplained (`message` undefined), or a message held meanwhile. */
export interface HeldEvent {
  /** The entry's event number (see `PeerEntry.seq`). */
  readonly seq: number;
  /** The admission round open when it was read. */
  readonly round: number | undefined;
  readonly message: RoutedMessage | undefined;
}

/** A routing id whose last empty frame is not explained yet, and what is known since. */
export interface Suspicion {
  /** The first round whose candidates could have made a new connection with this routing id. */
  readonly fromRound: number;
  /** Liveness probes answered "still there" in the current series. */
  alive: number;
  /** Set by the last probe of a series: the last round that was open when it was sent. */
  decideRound: number | undefined;
  /** A round in the window was poisoned: even if alive, the connection may not be the one attributed. */
  tainted: boolean;
}

/** One routing id the ROUTER socket has shown us, and what we know about its connection. */
export class PeerEntry {
  readonly id: Buffer;
  readonly key: string;
  readonly name: string;
  status: EntryStatus;
  admission: ZapAdmission | undefined;
  round: AdmissionRound | undefined;
  /** peer-connected was emitted (and no peer-gone since). */
  announced = false;
  /**
   * Frame sets handled for this routing id, counted from the first. A liveness probe remembers
   * the count when it is sent: whatever has a higher number was read after it.
   */
  seq = 0;
  suspicion: Suspicion | undefined;
  held: HeldEvent[] | undefined;
  heldBytes = 0;
  /** The number of the first event dropped because the hold was full (undefined: none). */
  overflowSeq: number | undefined;
  /** The one probe timer (suspicion series, confirmation or check). */
  timer: unknown;

  constructor(id: Buffer, status: EntryStatus) {
    this.id = id;
    this.key = identityKey(id);
    this.name = frameText(id);
    this.status = status;
  }

  /** Holds an event; false (and the overflow noted) when over `maxEvents` or `maxBytes`. */
  hold(event: HeldEvent, maxEvents: number, maxBytes: number): boolean {
    const bytes = event.message === undefined ? 0 : messageBytes(event.message);
    const held = (this.held ??= []);
    if (held.length >= maxEvents || this.heldBytes + bytes > maxBytes) {
      this.overflowSeq ??= event.seq;
      return false;
    }
    held.push(event);
    this.heldBytes += bytes;
    return true;
  }

  /** Takes the held events out (the empty-frame markers included); the overflow note goes with them. */
  takeHeld(): HeldEvent[] {
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    this.overflowSeq = undefined;
    return held;
  }

  /** Drops the empty-frame markers, keeping held messages. */
  dropMarkers(): void {
    if (this.held === undefined) return;
    this.held = this.held.filter((h) => h.message !== undefined);
  }
}

function messageBytes(m: RoutedMessage): number {
  let n = m.sender.length + m.recipient.length + m.user.length + m.id.length + m.subsystem.length;
  for (const a of m.args) n += a.length;
  return n;
}
