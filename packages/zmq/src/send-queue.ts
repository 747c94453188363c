import { ClosedError } from '@vip/protocol';
import { zmqErrorCode } from './zmq-errors.js';

/** The part of a zeromq.js writable socket the queue needs. */
export interface MultipartSender {
  send(frames: Buffer[]): Promise<void>;
}

interface Pending {
  readonly frames: Buffer[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * zeromq.js allows one send in flight per socket (a second concurrent `send` throws EBUSY
 * synchronously). Common path: nothing in flight, so the frames go straight to the socket with
 * no extra promise or allocation. Only when the socket answers EBUSY are frames queued, in order,
 * and sent one at a time after the in-flight send settles.
 */
export class SendQueue {
  readonly #socket: MultipartSender;
  readonly #what: string;
  #inFlight: Promise<void> | undefined;
  #queue: Pending[] = [];
  #draining = false;
  #closed = false;

  constructor(socket: MultipartSender, what: string) {
    this.#socket = socket;
    this.#what = what;
  }

  get queued(): number {
    return this.#queue.length;
  }

  send(frames: Buffer[]): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#what));
    if (this.#queue.length === 0) {
      try {
        const p = this.#socket.send(frames);
        this.#inFlight = p;
        return p;
      } catch (err) {
        if (zmqErrorCode(err) !== 'EBUSY') return Promise.reject(err);
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ frames, resolve, reject });
      this.#scheduleDrain();
    });
  }

  /** Rejects every queued send with ClosedError; later sends reject too. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) p.reject(new ClosedError(this.#what));
  }

  #scheduleDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    const wait = this.#inFlight ?? Promise.resolve();
    const drain = (): void => {
      this.#draining = false;
      this.#drain();
    };
    wait.then(drain, drain);
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const next = this.#queue[0] as Pending;
      let p: Promise<void>;
      try {
        p = this.#socket.send(next.frames);
      } catch (err) {
        if (zmqErrorCode(err) === 'EBUSY') {
          this.#scheduleDrain();
          return;
        }
        this.#queue.shift();
        next.reject(err);
        continue;
      }
      this.#queue.shift();
      this.#inFlight = p;
      p.then(next.resolve, next.reject);
    }
  }
}
