import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Test helpers for the real broker: a private virtual host per test file, rabbitmqctl, an inbox.
 * No @vip/rmq here (the packages whose tests use @vip/testing must not be its dependencies): what
 * a virtual host needs beyond existing (VOLTTRON's exchanges, via @vip/rmq's
 * ensureVolttronBroker) is handed in by the caller, see `vhostFixture`.
 */
export const AMQP_URL = process.env.VIP_RMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const MANAGEMENT = { baseUrl: process.env.VIP_RMQ_MGMT ?? 'http://127.0.0.1:15672', user: 'guest', password: 'guest' } as const;
/** Fast reconnects for tests (the default policy is 0.5 s .. 4 s). */
export const FAST_RECONNECT = { initialDelayMs: 200, maxDelayMs: 1_000 } as const;

export interface TestVhost {
  readonly vhost: string;
  readonly instanceName: string;
  dispose(): Promise<void>;
}

export interface VhostSetup {
  /** Create the virtual host and what it needs (e.g. `ensureVolttronBroker`); must fail loudly without a broker. */
  prepare(vhost: string): Promise<void>;
  /** Delete it (e.g. `RabbitMqManagement.deleteVhost`). */
  remove(vhost: string): Promise<void>;
}

/**
 * `freshVhost(tag)`: a fresh virtual host made by `setup.prepare`; fails loudly (never skips)
 * without a broker. Holds a shared broker lease until `dispose()`, so the broker-restart test
 * waits for it.
 */
export function vhostFixture(setup: VhostSetup): (tag: string) => Promise<TestVhost> {
  return async (tag) => {
    const vhost = `vip-test-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const release = await brokerLease(vhost);
    try {
      await setup.prepare(vhost);
    } catch (err) {
      await release();
      throw err;
    }
    return {
      vhost,
      instanceName: 'inst',
      dispose: async () => {
        try {
          await setup.remove(vhost);
        } finally {
          await release();
        }
      },
    };
  };
}

/*
 * Test files run in parallel; one of them (tests/integration/rmq-broker-restart.test.ts) stops the
 * broker. A file-system reader/writer lease keeps them apart: every test vhost holds a reader
 * file for its lifetime; the restart test takes the writer mark, waits until no live reader is
 * left, restarts, and clears the mark; new readers wait while a live writer mark exists. Entries
 * of dead processes are ignored, so a crashed run cannot block the next one.
 */
const LEASE_DIR = join(tmpdir(), 'vip-rmq-broker-lease');
const WRITER = join(LEASE_DIR, 'writer');
const LEASE_WAIT_MS = 180_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // no such process: its lease is stale
  }
}

/** The pid written in a lease file, when that process still runs. */
async function livePid(file: string): Promise<number | undefined> {
  const pid = Number(await readFile(file, 'utf8').catch(() => ''));
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + LEASE_WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${LEASE_WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Shared lease: write our reader file first, then back off while a writer of another process holds the mark. */
async function brokerLease(name: string): Promise<() => Promise<void>> {
  await mkdir(LEASE_DIR, { recursive: true });
  const file = join(LEASE_DIR, `reader-${name}`);
  await waitUntil(async () => {
    await writeFile(file, String(process.pid));
    const writer = await livePid(WRITER);
    if (writer === undefined || writer === process.pid) return true;
    await rm(file, { force: true });
    return false;
  }, 'the broker restart test to finish');
  return () => rm(file, { force: true });
}

/**
 * Exclusive use of the broker (stop_app/start_app): take the writer mark, then wait until no live
 * reader of another process is left (test files never share a process while running).
 */
export async function exclusiveBroker(): Promise<() => Promise<void>> {
  await mkdir(LEASE_DIR, { recursive: true });
  await waitUntil(async () => {
    try {
      await writeFile(WRITER, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      if ((await livePid(WRITER)) === undefined) await rm(WRITER, { force: true });
      return false;
    }
  }, 'another broker restart');
  await waitUntil(async () => {
    const readers = (await readdir(LEASE_DIR)).filter((f) => f.startsWith('reader-'));
    for (const r of readers) {
      const pid = await livePid(join(LEASE_DIR, r));
      if (pid !== undefined && pid !== process.pid) return false;
    }
    return true;
  }, 'the other RabbitMQ test files to finish');
  return () => rm(WRITER, { force: true });
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
