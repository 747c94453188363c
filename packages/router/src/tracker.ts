import { identityKey, type Frame } from '@vip/protocol';

/** The topics the router reports to `issue()` (docs/protocol.md 8). */
export type IssueTopic = 'incoming' | 'outgoing' | 'error' | 'unroutable';

/** What `issue()` sees of a message: the peer (frame 0 router-side), the user and the subsystem. */
export interface IssuedMessage {
  readonly peer?: Frame | undefined;
  readonly user?: Frame | undefined;
  readonly subsystem?: Frame | undefined;
}

export type CountMap = Record<string, number>;

/** VOLTTRON's `Tracker.stats` shape with string keys (docs/protocol.md 8; Python's bytes keys are a bug). */
export interface TrackerStats {
  error: { error: CountMap; peer: CountMap; user: CountMap; subsystem: CountMap };
  unroutable: { error: CountMap; peer: CountMap };
  incoming: { peer: CountMap; user: CountMap; subsystem: CountMap };
  outgoing: { peer: CountMap; user: CountMap; subsystem: CountMap };
  start?: number;
  end?: number;
}

function emptyStats(): TrackerStats {
  return {
    error: { error: {}, peer: {}, user: {}, subsystem: {} },
    unroutable: { error: {}, peer: {} },
    incoming: { peer: {}, user: {}, subsystem: {} },
    outgoing: { peer: {}, user: {}, subsystem: {} },
  };
}

function bump(map: CountMap, frame: Frame | undefined): void {
  if (frame === undefined) return;
  const key = identityKey(frame);
  map[key] = (map[key] ?? 0) + 1;
}

function bumpKey(map: CountMap, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Router message statistics, off until `enable()`. The router checks the public `enabled`
 * field before calling anything here, so a disabled tracker costs one boolean test per message.
 */
export class Tracker {
  enabled = false;
  #stats: TrackerStats = emptyStats();
  readonly #now: () => number;

  /** `now` returns seconds (VOLTTRON reports its loop time); defaults to the wall clock. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /** Starts counting from zero (VOLTTRON: enable also resets). */
  enable(): void {
    this.reset();
    this.enabled = true;
  }

  disable(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.#stats.end = this.#now();
  }

  reset(): void {
    this.#stats = emptyStats();
    this.#stats.start = this.#now();
  }

  /** A deep copy of the counters, safe to serialize. */
  get(): TrackerStats {
    return structuredClone(this.#stats);
  }

  /** Count one message under `topic`; `extra` is the errno (error) or the reason (unroutable). */
  hit(topic: IssueTopic, message: IssuedMessage, extra?: string): void {
    const s = this.#stats;
    switch (topic) {
      case 'unroutable':
        bumpKey(s.unroutable.error, extra ?? '');
        bump(s.unroutable.peer, message.peer);
        return;
      case 'error':
        bumpKey(s.error.error, extra ?? '');
        bump(s.error.peer, message.peer);
        bump(s.error.user, message.user);
        bump(s.error.subsystem, message.subsystem);
        return;
      default: {
        const t = s[topic];
        bump(t.peer, message.peer);
        bump(t.user, message.user);
        bump(t.subsystem, message.subsystem);
      }
    }
  }
}
