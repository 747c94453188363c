import { EMPTY_FRAME, frameFromKey, textFrame, type DeliveryResult, type Frame, type Logger, type RouterServices } from '@vip/protocol';

const PUBSUB = textFrame('pubsub');

/** One publish held for one subscriber that has not come back since the platform restarted. */
export interface HeldMessage {
  readonly bus: string;
  readonly topic: Frame;
  readonly publisher: Frame;
  readonly user: Frame;
  readonly id: Frame;
  /** `['publish', topic, payload]`, as a live delivery would carry. */
  readonly args: readonly Frame[];
  readonly bytes: number;
}

export interface HeldLimits {
  /** Bytes held over every subscriber. */
  readonly maxBytes: number;
  readonly maxMessages: number;
  readonly maxBytesPerSubscriber: number;
}

export interface HeldDeliveriesDeps {
  readonly services: () => RouterServices;
  /** The subscriber (back, its subscriptions synchronized) still wants `topic` on `bus`. */
  readonly wants: (subscriber: string, bus: string, topic: Frame) => boolean;
  /** Its grace period ended while it was known to be away: drop its restored subscriptions. */
  readonly forget: (subscriber: string) => void;
  /** It came back and went again during the replay: drop it as a failed live delivery would. */
  readonly unreachable: (subscriber: string) => void;
  /** Tell the publisher its message could not be kept for `subscriber` (error 11, as a live back-pressure drop). */
  readonly reportAgain: (subscriber: string, message: HeldMessage) => void;
  readonly logger: () => Logger;
}

/**
 * Where a restored subscriber stands. `unknown`: nothing sent to it yet. `probing`: the oldest
 * held message is on its way, its result tells whether the subscriber is there. `absent`: the
 * last try found it gone; retried every probe interval. `replaying`: it is back; held messages
 * go out in order, new ones queue behind them until the queue is empty.
 */
type State = 'unknown' | 'probing' | 'absent' | 'replaying';

class Waiting {
  state: State = 'unknown';
  readonly queue: HeldMessage[] = [];
  head = 0;
  bytes = 0;
  inFlight = 0;
  /** The grace period ended while a probe was out: the probe's result decides. */
  expired = false;
  /** It showed itself while a probe was out: a failed probe is retried, not trusted. */
  seen = false;

  get length(): number {
    return this.queue.length - this.head;
  }

  shift(): HeldMessage | undefined {
    const m = this.queue[this.head];
    if (m === undefined) return undefined;
    this.queue[this.head++] = undefined as unknown as HeldMessage; // release the frames
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return m;
  }

  peek(): HeldMessage | undefined {
    return this.queue[this.head];
  }
}

/** Deliveries to one replaying subscriber in flight at once; they leave in order, results may come in any order. */
const REPLAY_WINDOW = 32;
/** Absent subscribers probed per retry tick at most. */
const PROBES_PER_TICK = 64;

export interface HeldCounters {
  held: number;
  delivered: number;
  expired: number;
  dropped_full: number;
  dropped_unsubscribed: number;
  dropped_again: number;
  dropped_unreachable: number;
  returned: number;
  probes_failed: number;
}

/**
 * The subscribers a restarted platform restored from its subscription file, until each is back.
 * A publish that matches one of them is held for it (bounded in bytes and count over all and in
 * bytes per subscriber; beyond that dropped, counted, and reported to the publisher with error 11)
 * and counts in the publisher's reply like a delivery. The first held message is sent at once as
 * a probe: a subscriber that never went away (RabbitMQ: the agent's queue outlived the platform)
 * takes it and the rest follow. A subscriber that is away is probed again every
 * `probeIntervalMs` and is back as soon as it speaks pubsub (`seen`, after its `synchronize`):
 * its held messages then go out in publish order, before any later one, less those its new
 * subscriptions no longer match (counted). When `graceMs` runs out, the subscribers still away
 * with messages held lose those messages (counted `expired`) and their restored subscriptions;
 * those never matched by a publish keep their subscriptions as ordinary ones.
 */
export class HeldDeliveries {
  readonly counters: HeldCounters = {
    held: 0,
    delivered: 0,
    expired: 0,
    dropped_full: 0,
    dropped_unsubscribed: 0,
    dropped_again: 0,
    dropped_unreachable: 0,
    returned: 0,
    probes_failed: 0,
  };
  readonly #waiting = new Map<string, Waiting>();
  readonly #deps: HeldDeliveriesDeps;
  readonly #limits: HeldLimits;
  readonly #probeIntervalMs: number;
  #bytes = 0;
  #messages = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: HeldDeliveriesDeps, limits: HeldLimits, probeIntervalMs: number) {
    this.#deps = deps;
    this.#limits = limits;
    this.#probeIntervalMs = Math.max(10, probeIntervalMs);
  }

  /** Subscribers restored and not back yet. */
  get size(): number {
    return this.#waiting.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get messages(): number {
    return this.#messages;
  }

  /** Start waiting for `subscribers`; the grace period runs from now. */
  await(subscribers: Iterable<string>, graceMs: number): void {
    for (const key of subscribers) this.#waiting.set(key, new Waiting());
    if (this.#waiting.size === 0) return;
    this.#graceTimer = setTimeout(() => this.#expire(), graceMs);
    this.#graceTimer.unref();
  }

  has(subscriber: string): boolean {
    return this.#waiting.has(subscriber);
  }

  /**
   * Take the restored subscribers out of `subscribers` (the matches of one publish) and hold the
   * message for each. Returns how many now hold it (those it did not fit are reported, not counted).
   */
  take(subscribers: Set<string>, message: Omit<HeldMessage, 'bytes'>): number {
    let held = 0;
    let bytes = -1;
    for (const key of subscribers) {
      const w = this.#waiting.get(key);
      if (!w) continue;
      subscribers.delete(key);
      if (bytes < 0) bytes = sizeOf(message);
      const m: HeldMessage = { ...message, bytes };
      if (!this.#fits(w, bytes)) {
        this.counters.dropped_full++;
        this.#deps.reportAgain(key, m);
        continue;
      }
      w.queue.push(m);
      w.bytes += bytes;
      this.#bytes += bytes;
      this.#messages++;
      this.counters.held++;
      held++;
      if (w.state === 'unknown') this.#probe(key, w);
      else if (w.state === 'replaying') this.#pump(key, w);
    }
    return held;
  }

  /** The subscriber spoke pubsub: it is back, with the subscriptions it has now. */
  seen(subscriber: string): void {
    const w = this.#waiting.get(subscriber);
    if (!w || w.state === 'replaying') return;
    if (w.state === 'probing') {
      w.seen = true;
      return;
    }
    this.#back(subscriber, w, true);
  }

  /**
   * The router dropped the peer (agentstop, disconnect, a failed delivery). The router only drops
   * peers it has seen since the restart, so the subscriber was here and left: what is held for it
   * goes (counted `dropped_unreachable`), as a live subscriber's subscriptions go on a drop.
   */
  dropped(subscriber: string): void {
    const w = this.#waiting.get(subscriber);
    if (w) this.#discard(subscriber, w, 'dropped_unreachable');
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    clearInterval(this.#retryTimer);
    this.#graceTimer = this.#retryTimer = undefined;
    for (const [key, w] of this.#waiting) this.#discard(key, w, 'expired');
  }

  #fits(w: Waiting, bytes: number): boolean {
    const l = this.#limits;
    return this.#messages < l.maxMessages && this.#bytes + bytes <= l.maxBytes && w.bytes + bytes <= l.maxBytesPerSubscriber;
  }

  #release(w: Waiting, m: HeldMessage): void {
    w.bytes -= m.bytes;
    this.#bytes -= m.bytes;
    this.#messages--;
  }

  #back(key: string, w: Waiting, filter: boolean): void {
    this.counters.returned++;
    w.state = 'replaying';
    if (filter && w.length > 0) {
      const keep: HeldMessage[] = [];
      for (let m = w.shift(); m !== undefined; m = w.shift()) {
        if (this.#deps.wants(key, m.bus, m.topic)) keep.push(m);
        else {
          this.#release(w, m);
          this.counters.dropped_unsubscribed++;
        }
      }
      w.queue.length = 0;
      w.head = 0;
      w.queue.push(...keep);
    }
    this.#pump(key, w);
  }

  #probe(key: string, w: Waiting): void {
    const m = w.peek();
    if (!m || this.#closed) return;
    w.state = 'probing';
    w.seen = false;
    this.#send(key, m).then((result) => {
      if (this.#waiting.get(key) !== w) return;
      if (result === 'ok') {
        w.shift();
        this.#release(w, m);
        this.counters.delivered++;
        this.#back(key, w, w.seen); // it synchronized meanwhile: the rest must match what it wants now
        return;
      }
      this.counters.probes_failed++;
      w.state = 'absent';
      if (w.expired && !w.seen) return this.#gone(key, w);
      if (w.seen) return this.#back(key, w, true);
      this.#armRetry();
    });
  }

  /** Send held messages of a replaying subscriber in order, `REPLAY_WINDOW` at a time. */
  #pump(key: string, w: Waiting): void {
    while (w.inFlight < REPLAY_WINDOW && !this.#closed) {
      const m = w.shift();
      if (!m) break;
      this.#release(w, m);
      w.inFlight++;
      void this.#send(key, m).then((result) => this.#replayed(key, w, m, result));
    }
    if (w.length === 0 && w.inFlight === 0 && this.#waiting.get(key) === w) this.#waiting.delete(key); // an ordinary subscriber from now on
  }

  #replayed(key: string, w: Waiting, m: HeldMessage, result: DeliveryResult | 'error'): void {
    w.inFlight--;
    if (this.#waiting.get(key) !== w) return;
    if (result === 'ok') this.counters.delivered++;
    else if (result === 'unreachable') {
      this.counters.dropped_unreachable++;
      this.#discard(key, w, 'dropped_unreachable');
      this.#deps.unreachable(key);
      return;
    } else {
      this.counters.dropped_again++;
      this.#deps.reportAgain(key, m);
    }
    this.#pump(key, w);
  }

  #send(key: string, m: HeldMessage): Promise<DeliveryResult | 'error'> {
    let p: Promise<DeliveryResult>;
    try {
      p = this.#deps.services().deliver(frameFromKey(key), EMPTY_FRAME, m.user, m.id, PUBSUB, m.args);
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.catch((err: unknown) => {
      this.#deps.logger().debug('pubsub.held.deliver_failed', { subscriber: key }, err);
      return 'error' as const;
    });
  }

  #armRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setInterval(() => this.#retry(), this.#probeIntervalMs);
    this.#retryTimer.unref();
  }

  #retry(): void {
    let probed = 0;
    let absent = 0;
    for (const [key, w] of this.#waiting) {
      if (w.state !== 'absent') continue;
      absent++;
      if (probed++ < PROBES_PER_TICK) this.#probe(key, w);
    }
    if (absent === 0) {
      clearInterval(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  #expire(): void {
    this.#graceTimer = undefined;
    let gone = 0;
    let lost = 0;
    for (const [key, w] of [...this.#waiting]) {
      if (w.state === 'unknown') this.#waiting.delete(key);
      else if (w.state === 'probing') w.expired = true;
      else if (w.state === 'absent') {
        gone++;
        lost += w.length;
        this.#gone(key, w);
      }
    }
    this.#deps.logger().info('pubsub.restore.grace_over', { gone, held_dropped: lost, still_replaying: this.#waiting.size });
  }

  /** Away past the grace period: its held messages and restored subscriptions go. */
  #gone(key: string, w: Waiting): void {
    this.#discard(key, w, 'expired');
    this.#deps.forget(key);
  }

  #discard(key: string, w: Waiting, counter: 'expired' | 'dropped_unreachable'): void {
    for (let m = w.shift(); m !== undefined; m = w.shift()) {
      this.#release(w, m);
      this.counters[counter]++;
    }
    if (this.#waiting.get(key) === w) this.#waiting.delete(key);
  }
}

/** What a held message costs: its frames plus a fixed allowance for the objects around them. */
function sizeOf(m: Omit<HeldMessage, 'bytes'>): number {
  let n = 256 + m.bus.length + m.publisher.length + m.user.length + m.id.length;
  for (const f of m.args) n += f.length;
  return n;
}
