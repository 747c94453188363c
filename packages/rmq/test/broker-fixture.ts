import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { ensureVolttronBroker, RabbitMqManagement } from '../src/index.js';

/** Test helpers for the real broker: a private virtual host per test file, rabbitmqctl, an inbox. */
export const AMQP_URL = process.env.VIP_RMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const management = new RabbitMqManagement({ baseUrl: process.env.VIP_RMQ_MGMT ?? 'http://127.0.0.1:15672', user: 'guest', password: 'guest' });
/** Fast reconnects for tests (the default policy is 0.5 s .. 4 s). */
export const FAST_RECONNECT = { initialDelayMs: 200, maxDelayMs: 1_000 } as const;

export interface TestVhost {
  readonly vhost: string;
  readonly instanceName: string;
  dispose(): Promise<void>;
}

/** A fresh virtual host with the VOLTTRON exchanges; fails loudly (never skips) without a broker. */
export async function freshVhost(tag: string): Promise<TestVhost> {
  const vhost = `vip-test-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  await ensureVolttronBroker({ url: AMQP_URL, vhost, management: { baseUrl: 'http://127.0.0.1:15672', user: 'guest', password: 'guest' } });
  return { vhost, instanceName: 'inst', dispose: () => management.deleteVhost(vhost) };
}

const run = promisify(execFile);
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 60_000 });
  return stdout;
}

/** Items arriving over time; `next` waits for the first match with a deadline (a miss fails). */
export class Inbox<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<{ pred: (x: T) => boolean; resolve: (x: T) => void }>();
  readonly push = (x: T): void => {
    this.items.push(x);
    for (const w of this.#waiters) {
      if (w.pred(x)) {
        this.#waiters.delete(w);
        w.resolve(x);
      }
    }
  };
  next(pred: (x: T) => boolean = () => true, timeoutMs = 5_000, what = 'item'): Promise<T> {
    const seen = this.items.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const w = {
        pred,
        resolve: (x: T) => {
          clearTimeout(timer);
          resolve(x);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }
  /** Wait until `n` items match. */
  async count(pred: (x: T) => boolean, n: number, timeoutMs = 10_000, what = 'items'): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.items.filter(pred);
      if (got.length >= n) return got;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} ${what} (got ${got.length})`);
      await this.next((x) => pred(x) && !got.includes(x), left, what);
    }
  }
}
