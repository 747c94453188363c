// A model of what a ZMQ_ROUTER_NOTIFY ROUTER socket shows, for the attribution tests
// (pure logic, no sockets). It keeps the libzmq behaviour the attribution relies on:
// - a connection that passed ZAP attaches as its routing id unless a pipe with that id is still
//   attached; then it is refused silently and nothing it sends is ever read (no handover);
// - an attached pipe's first message is its connect notification `''`, its last (when it closes)
//   the disconnect notification `''`; in between, whatever the peer sends, lone `''` included;
// - a pipe is removed some time after its last message was read (libzmq processes the pipe-term
//   command lazily): until then a ROUTER_MANDATORY send to its id succeeds;
// - the router reads pipes fairly, in no fixed order.
import type { RoutedMessage } from '@vip/protocol';
import type { Clock } from '../../src/attribution/clock.js';

export class FakeClock implements Clock {
  time = 0;
  #next = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  readonly #deferred: Array<() => void> = [];

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): unknown {
    const id = ++this.#next;
    this.#timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  cancel(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  defer(fn: () => void): void {
    this.#deferred.push(fn);
  }

  /** Runs one deferred task, else one timer that is due; false when there was nothing to run. */
  runOne(): boolean {
    const d = this.#deferred.shift();
    if (d !== undefined) {
      d();
      return true;
    }
    let due: [number, { at: number; fn: () => void }] | undefined;
    for (const t of this.#timers) if (t[1].at <= this.time && (due === undefined || t[1].at < due[1].at)) due = t;
    if (due === undefined) return false;
    this.#timers.delete(due[0]);
    due[1].fn();
    return true;
  }

  /** Moves time to the next timer (at most `maxMs` ahead). */
  advance(maxMs: number): void {
    let next = this.time + maxMs;
    for (const t of this.#timers.values()) if (t.at < next) next = t.at;
    this.time = Math.max(this.time, next);
  }

  get idle(): boolean {
    return this.#deferred.length === 0 && this.#timers.size === 0;
  }
}

export interface ModelConnection {
  readonly n: number;
  readonly routingId: string;
  /** The user its key is admitted as, and the identity its key pins (if any). */
  readonly user: string;
  readonly pin: string | undefined;
  state: 'handshake' | 'admitted' | 'attached' | 'stuck' | 'closed';
  pipe: ModelPipe | undefined;
  /** When its 200 went out (model time). */
  admittedAt?: number;
  /** Its connect notification was read. */
  seen?: boolean;
}

export interface ModelPipe {
  readonly id: string;
  readonly conn: ModelConnection;
  /** Frame sets the router has not read: `undefined` is a lone empty frame. */
  readonly queue: Array<string | undefined>;
  /** The disconnect notification is queued; nothing more will be. */
  ending: boolean;
  /** The last message was read; removal is pending. */
  drained: boolean;
}

/** The ROUTER socket side of the model: attached pipes by routing id, reading and mandatory sends. */
export class ModelRouter {
  readonly attached = new Map<string, ModelPipe>();
  readonly draining: ModelPipe[] = [];

  /** The 200 reached the connection's engine: its pipe attaches, unless its routing id is taken. */
  attach(conn: ModelConnection): void {
    if (conn.state !== 'admitted') return;
    if (this.attached.has(conn.routingId)) {
      conn.state = 'stuck';
      return;
    }
    const pipe: ModelPipe = { id: conn.routingId, conn, queue: [undefined], ending: false, drained: false };
    conn.pipe = pipe;
    conn.state = 'attached';
    this.attached.set(pipe.id, pipe);
  }

  /** The peer writes a frame set (`undefined`: a lone empty frame). */
  write(conn: ModelConnection, payload: string | undefined): void {
    if (conn.state === 'attached' && conn.pipe && !conn.pipe.ending) conn.pipe.queue.push(payload);
  }

  close(conn: ModelConnection): void {
    if (conn.state === 'attached' && conn.pipe && !conn.pipe.ending) {
      conn.pipe.queue.push(undefined);
      conn.pipe.ending = true;
    }
    conn.state = 'closed';
  }

  /** Reads one frame set from a pipe chosen by `pick` among those with something to read. */
  read(pick: (n: number) => number): { id: string; payload: string | undefined; conn: ModelConnection } | undefined {
    const ready = [...this.attached.values()].filter((p) => p.queue.length > 0);
    if (ready.length === 0) return undefined;
    const pipe = ready[pick(ready.length)] as ModelPipe;
    return this.#take(pipe);
  }

  /** Reads the next frame set of one pipe (out of the fair order). */
  readFrom(pipe: ModelPipe): { id: string; payload: string | undefined; conn: ModelConnection } | undefined {
    return pipe.queue.length === 0 ? undefined : this.#take(pipe);
  }

  #take(pipe: ModelPipe): { id: string; payload: string | undefined; conn: ModelConnection } {
    const payload = pipe.queue.shift();
    pipe.conn.seen = true;
    if (pipe.ending && pipe.queue.length === 0) {
      pipe.drained = true;
      this.draining.push(pipe);
    }
    return { id: pipe.id, payload, conn: pipe.conn };
  }

  /** libzmq gets round to removing a drained pipe. */
  removeOne(pick: (n: number) => number): void {
    if (this.draining.length === 0) return;
    const [pipe] = this.draining.splice(pick(this.draining.length), 1);
    if (pipe && this.attached.get(pipe.id) === pipe) this.attached.delete(pipe.id);
  }

  /** ROUTER_MANDATORY: succeeds while a pipe with this id is attached. */
  probe(id: string): 'alive' | 'gone' {
    return this.attached.has(id) ? 'alive' : 'gone';
  }
}

/** A routed message whose id frame carries the connection number (the model's ground truth). */
export function modelMessage(id: string, conn: ModelConnection, text: string): RoutedMessage {
  const f = (s: string) => Buffer.from(s, 'latin1');
  return { sender: f(id), recipient: f(''), user: f(''), id: f(`${conn.n}:${text}`), subsystem: f('whoami'), args: [] };
}

/** The connection number a model message came from. */
export function senderOf(message: RoutedMessage): number {
  return Number(message.id.toString('latin1').split(':')[0]);
}
