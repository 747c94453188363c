/**
 * The last `capacity` keys added, for "seen before?" checks in constant memory: a set plus a ring
 * of insertion order; the oldest key leaves when a new one comes in. Used to drop a persistent
 * queue's redeliveries of messages already passed on (their acks were lost with a node or a
 * connection). A redelivery older than the window is passed on again (at-least-once then).
 */
export class RecentIds {
  readonly #set = new Set<string>();
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`RecentIds capacity must be a positive integer, got ${capacity}`);
    this.#ring = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.#set.size;
  }

  has(key: string): boolean {
    return this.#set.has(key);
  }

  add(key: string): void {
    if (this.#set.has(key)) return;
    const old = this.#ring[this.#next];
    if (old !== undefined) this.#set.delete(old);
    this.#ring[this.#next] = key;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#set.add(key);
  }
}

/**
 * Whether a delivery may repeat one passed on before: the queue redelivers it (an ack lost with a
 * node or a connection), or it crossed a federation link or a shovel, which republish what they
 * had not had confirmed when their link was cut (RabbitMQ marks those with `x-received-from` or
 * `x-shovelled`; the copy arrives at our queue as a first delivery).
 */
export function mayRepeat(redelivered: boolean, headers: Record<string, unknown> | undefined): boolean {
  return redelivered || (headers !== undefined && (headers['x-received-from'] !== undefined || headers['x-shovelled'] !== undefined));
}
