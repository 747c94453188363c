import { frameBytes, type Frame } from '@vip/protocol';
import { zmqErrorCode } from './zmq-errors.js';

/** How much the router may queue for peers whose libzmq pipe is full. */
export interface SendBacklogLimits {
  /** Bytes (frames summed) queued for one peer. */
  readonly peerBytes: number;
  /** Messages queued for one peer. */
  readonly peerMessages: number;
  /** Bytes queued for every peer together. */
  readonly totalBytes: number;
}

export interface SendBacklogOptions extends SendBacklogLimits {
  /**
   * The socket send of a queued message (`key`: its peer, `bytes`: its size): resolves when libzmq
   * took the frames; rejects with EAGAIN while the peer's pipe is full.
   */
  readonly send: (key: string, frames: Buffer[], bytes: number) => Promise<void>;
  /** Queued messages were dropped without being sent (their peer is gone): how many, and why. */
  readonly dropped: (count: number, reason: string) => void;
  /** Longest wait between two attempts for a peer that takes nothing (ms). Default 50. */
  readonly maxRetryMs?: number;
}

export interface SendBacklogStats {
  /** Peers with messages waiting. */
  readonly peers: number;
  readonly messages: number;
  readonly bytes: number;
  /** The most bytes ever queued at once. */
  readonly peakBytes: number;
  /** Messages that went through the queue (sent after waiting). */
  readonly sent: number;
  /** Attempts refused again by a still-full pipe. */
  readonly retries: number;
}

interface Queued {
  readonly frames: Buffer[];
  readonly bytes: number;
}

/** One blocked peer's messages, oldest first (an array with a moving head: no O(n) shift). */
class PeerQueue {
  items: (Queued | undefined)[] = [];
  head = 0;
  bytes = 0;
  /** Attempts in a row that sent nothing. */
  misses = 0;
  /** `performance.now()` of the next attempt. */
  dueAt = 0;
  flushing = false;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: Queued): void {
    this.items.push(item);
    this.bytes += item.bytes;
  }

  peek(): Queued | undefined {
    return this.items[this.head];
  }

  shift(): void {
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (item) this.bytes -= item.bytes;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * How long a blocked peer waits before its next attempt after `misses` attempts in a row that sent
 * nothing: the next turns of the event loop first (a reading peer frees room within microseconds,
 * and a pipe left empty costs libzmq a wake-up), then 1, 2, 4... ms up to `maxMs`.
 */
function retryDelay(misses: number, maxMs: number): number {
  if (misses <= IMMEDIATE_RETRIES) return 0;
  if (misses <= IMMEDIATE_RETRIES + SHORT_RETRIES) return 1;
  return Math.min(maxMs, 2 ** (misses - IMMEDIATE_RETRIES - SHORT_RETRIES));
}

const IMMEDIATE_RETRIES = 3;
/** Attempts 1 ms apart before the wait doubles: a pipe frees room within a few ms if its peer reads. */
const SHORT_RETRIES = 20;

/**
 * The messages a ROUTER socket could not take yet, per peer, bounded in bytes and count.
 *
 * libzmq's high-water mark counts messages, and it says nothing about a pipe until a send fails
 * with EAGAIN. The router bounds what libzmq holds per peer in bytes (RouterSender, `sendPlan`)
 * and queues here what does not fit: up to `peerBytes`/`peerMessages` per peer and
 * `totalBytes` for all, beyond which `enqueue` refuses and the sender gets error 11. A blocked peer
 * keeps its order: later messages for it queue behind the first refused one, never past it.
 *
 * Nothing tells when a pipe has room again, so a blocked peer is retried (`retryDelay`): at the
 * next turns of the event loop while it takes messages, then with a doubling wait up to
 * `maxRetryMs` while it takes none. The timer runs only while some peer is blocked.
 */
export class SendBacklog {
  readonly #o: SendBacklogOptions;
  readonly #maxRetryMs: number;
  readonly #queues = new Map<string, PeerQueue>();
  #bytes = 0;
  #messages = 0;
  #peakBytes = 0;
  #sent = 0;
  #retries = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(options: SendBacklogOptions) {
    this.#o = options;
    this.#maxRetryMs = options.maxRetryMs ?? 50;
  }

  /** Peers with messages waiting (0 on the fast path: no lookup needed). */
  get blockedPeers(): number {
    return this.#queues.size;
  }

  isBlocked(key: string): boolean {
    return this.#queues.has(key);
  }

  /**
   * Queue `frames` for peer `key` (its pipe is full, or older messages for it wait): true when
   * queued, false when a limit refuses it (the caller answers error 11).
   */
  enqueue(key: string, frames: Frame[]): boolean {
    if (this.#closed) return false;
    const bytes = frameBytes(frames);
    const q = this.#queues.get(key);
    if (
      (q !== undefined && (q.length >= this.#o.peerMessages || q.bytes + bytes > this.#o.peerBytes)) ||
      bytes > this.#o.peerBytes ||
      this.#bytes + bytes > this.#o.totalBytes
    ) {
      return false;
    }
    let queue = q;
    if (queue === undefined) {
      queue = new PeerQueue();
      queue.dueAt = performance.now();
      this.#queues.set(key, queue);
    }
    queue.push({ frames, bytes });
    this.#bytes += bytes;
    this.#messages++;
    if (this.#bytes > this.#peakBytes) this.#peakBytes = this.#bytes;
    this.#schedule();
    return true;
  }

  /** Drop what waits for `key` (the peer is gone): the memory is released at once. */
  forget(key: string, reason = 'peer gone'): void {
    const q = this.#queues.get(key);
    if (q === undefined) return;
    this.#queues.delete(key);
    this.#release(q, reason);
  }

  stats(): SendBacklogStats {
    return {
      peers: this.#queues.size,
      messages: this.#messages,
      bytes: this.#bytes,
      peakBytes: this.#peakBytes,
      sent: this.#sent,
      retries: this.#retries,
    };
  }

  /** Drops everything queued (counted `closed`) and stops retrying. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    for (const [key] of this.#queues) this.forget(key, 'closed');
  }

  #release(q: PeerQueue, reason: string): void {
    const n = q.length;
    this.#bytes -= q.bytes;
    this.#messages -= n;
    q.items = [];
    q.head = 0;
    q.bytes = 0;
    if (n > 0) this.#o.dropped(n, reason);
    if (this.#queues.size === 0) this.#stop();
  }

  #schedule(): void {
    if (this.#closed || this.#immediate !== undefined || this.#queues.size === 0) return;
    let due = Infinity;
    for (const q of this.#queues.values()) if (!q.flushing && q.dueAt < due) due = q.dueAt;
    if (due === Infinity) return; // every queue is being flushed; each reschedules when it stops
    const wait = due - performance.now();
    if (wait <= 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(this.#run);
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#run, Math.max(1, Math.ceil(wait)));
  }

  readonly #run = (): void => {
    this.#immediate = undefined;
    this.#timer = undefined;
    const now = performance.now();
    for (const [key, q] of this.#queues) if (!q.flushing && q.dueAt <= now) void this.#flush(key, q);
    this.#schedule();
  };

  /** Sends `q` in order until libzmq refuses again; one send at a time, so nothing overtakes. */
  async #flush(key: string, q: PeerQueue): Promise<void> {
    q.flushing = true;
    let progressed = false;
    try {
      for (let item = q.peek(); item !== undefined; item = q.peek()) {
        try {
          await this.#attempt(key, item);
        } catch (err) {
          if (this.#queues.get(key) !== q) return; // forgotten meanwhile
          if (zmqErrorCode(err) === 'EAGAIN') {
            this.#retries++;
            break;
          }
          this.forget(key, zmqErrorCode(err) === 'EHOSTUNREACH' ? 'peer gone' : 'send error');
          return;
        }
        if (this.#queues.get(key) !== q) return;
        q.shift();
        this.#bytes -= item.bytes;
        this.#messages--;
        this.#sent++;
        progressed = true;
      }
      if (q.length === 0) {
        this.#queues.delete(key);
        if (this.#queues.size === 0) this.#stop();
        return;
      }
      q.misses = progressed ? 0 : q.misses + 1;
      q.dueAt = performance.now() + retryDelay(q.misses, this.#maxRetryMs);
    } finally {
      q.flushing = false;
      this.#schedule();
    }
  }

  /**
   * One send; a refusal here is routine (the pipe is still full), so its error is made without a
   * stack trace: zeromq.js builds the error synchronously inside send().
   */
  #attempt(key: string, item: Queued): Promise<void> {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.#o.send(key, item.frames, item.bytes);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }
}
