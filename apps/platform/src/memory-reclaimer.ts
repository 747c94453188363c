import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { silentLogger, type Logger } from '@vip/protocol';

export interface MemoryReclaimerOptions {
  /** At most one collection this often (ms). Default 5 s. */
  readonly minIntervalMs?: number;
  /** Wait this long after a hint (ms): libzmq hands the buffers of a dropped pipe back asynchronously. Default 250. */
  readonly delayMs?: number;
  /** Collect only when RSS is this much above the lowest seen after start or a collection. Default 32 MiB. */
  readonly slackBytes?: number;
  readonly logger?: Logger;
  /** Resident set size now; default `process.memoryUsage.rss`. */
  readonly rss?: () => number;
  /** A full collection; default V8's `gc` (exposed at start), none when it cannot be had. */
  readonly gc?: (() => void) | undefined;
  /** Clock (ms) and timer; default `performance.now` and an unref'd `setTimeout`. */
  readonly now?: () => number;
  readonly schedule?: (run: () => void, ms: number) => { cancel(): void };
}

const unrefTimeout = (run: () => void, ms: number): { cancel(): void } => {
  const t = setTimeout(run, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export interface MemoryReclaimerStats {
  readonly hints: number;
  readonly collections: number;
  /** RSS given back by the collections, summed (bytes). */
  readonly reclaimedBytes: number;
}

/**
 * Message buffers the router drops in bulk (a stalled peer's pipe when it leaves, a 200 MiB
 * message refused as oversize) are JS Buffers over memory libzmq allocated: they are freed when
 * V8 collects them, and V8 collects when the process allocates. An idle router would keep them,
 * its RSS at the peak, for as long as it stays idle. On a hint (the transport's
 * `onBuffersReleased`) this runs one full collection shortly after, when RSS is well above its
 * floor, at most once per `minIntervalMs` (a collection pauses the event loop for a few ms), and
 * up to twice more while RSS stays up.
 */
export class MemoryReclaimer {
  readonly #minIntervalMs: number;
  readonly #delayMs: number;
  readonly #slack: number;
  readonly #logger: Logger;
  readonly #rss: () => number;
  readonly #gc: (() => void) | undefined;
  readonly #now: () => number;
  readonly #schedule: (run: () => void, ms: number) => { cancel(): void };
  #floor: number;
  #last = -Infinity;
  #timer: { cancel(): void } | undefined;
  /** Collections still to try after the last one (RSS may stay up while libzmq hands buffers back). */
  #followUps = 0;
  #hints = 0;
  #collections = 0;
  #reclaimed = 0;
  #closed = false;

  constructor(options: MemoryReclaimerOptions = {}) {
    this.#minIntervalMs = options.minIntervalMs ?? 5_000;
    this.#delayMs = options.delayMs ?? 250;
    this.#slack = options.slackBytes ?? 32 * 1024 * 1024;
    this.#logger = options.logger ?? silentLogger;
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#gc = 'gc' in options ? options.gc : exposedGc(this.#logger);
    this.#now = options.now ?? (() => performance.now());
    this.#schedule = options.schedule ?? unrefTimeout;
    this.#floor = this.#rss();
  }

  /** Buffers were dropped in bulk: collect soon if RSS says there is something to give back. */
  hint(): void {
    this.#hints++;
    if (this.#gc === undefined || this.#closed) return;
    this.#followUps = FOLLOW_UPS;
    this.#arm(this.#delayMs);
  }

  stats(): MemoryReclaimerStats {
    return { hints: this.#hints, collections: this.#collections, reclaimedBytes: this.#reclaimed };
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(delayMs, this.#last + this.#minIntervalMs - this.#now());
    this.#timer = this.#schedule(() => this.#collect(), wait);
  }

  #collect(): void {
    this.#timer = undefined;
    const before = this.#rss();
    if (before < this.#floor + this.#slack) {
      this.#floor = Math.min(this.#floor, before);
      this.#followUps = 0;
      return;
    }
    this.#last = this.#now();
    (this.#gc as () => void)();
    const after = this.#rss();
    this.#collections++;
    this.#reclaimed += Math.max(0, before - after);
    this.#floor = Math.min(this.#floor, after);
    this.#logger.debug('platform.memory.collected', { rssBefore: before, rssAfter: after });
    // The references libzmq held may come back after this collection ran: look again later.
    if (this.#followUps > 0 && !this.#closed) {
      this.#followUps--;
      this.#arm(this.#minIntervalMs);
    }
  }
}

/** Collections after the first while RSS stays above its floor (each `minIntervalMs` apart). */
const FOLLOW_UPS = 2;

/** V8's `gc`, exposed at run time (node was not started with --expose-gc); undefined if refused. */
function exposedGc(logger: Logger): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return gc as () => void;
  } catch (err) {
    logger.warn('platform.memory.gc_unavailable', {}, err);
  }
  return undefined;
}
