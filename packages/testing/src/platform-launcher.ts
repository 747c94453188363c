import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TimeoutError, TransportError, type LogLevel } from '@vip/protocol';
import { waitFor } from './wait-for.js';

export interface StartPlatformOptions {
  /** Message bus (default `zmq`); `rmq` needs `rmq.vhost`. */
  readonly bus?: 'zmq' | 'rmq';
  /** @deprecated use `bus` */
  readonly transport?: 'zmq' | 'rmq';
  /**
   * RabbitMQ settings for `bus: 'rmq'` (a test's own virtual host, e.g. from freshVhost).
   * `sharedLogin`: `--rmq-shared-login`, platform and agents on the URL's login (guest), no sender
   * proven; a legitimate set-up for tests about other things. Default: the platform's own broker
   * user `<instance>.router` and per-agent proofs (then give the test a unique instance name:
   * broker users are global, and delete `<instance>.router` afterwards).
   */
  readonly rmq?: { readonly vhost: string; readonly url?: string; readonly managementUrl?: string; readonly sharedLogin?: boolean };
  readonly instanceName?: string;
  /** CURVE + auth.json (default true). */
  readonly allowAuth?: boolean;
  /** Platform log level (default `info`: the harness waits on `auth.reloaded`). */
  readonly logLevel?: LogLevel;
  /** More CLI arguments. */
  readonly args?: readonly string[];
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Deadline for the ready line (default 20 s). */
  readonly startTimeoutMs?: number;
  /** SIGTERM grace period before SIGKILL in `close()` (default 5 s). */
  readonly stopGraceMs?: number;
  /** Path of the built platform (default `apps/platform/dist/main.js`, or env VIP_PLATFORM_MAIN). */
  readonly mainPath?: string;
  /** Fill the fresh VIP_HOME before the platform starts (e.g. files a VOLTTRON home would hold). */
  readonly prepareHome?: (home: string) => Promise<void>;
}

export interface AuthorizeOptions {
  /** Identity the entry is pinned to (also the default user id). */
  readonly identity?: string;
  readonly userId?: string;
  readonly capabilities?: Readonly<Record<string, Readonly<Record<string, unknown>> | null>> | readonly string[];
}

export interface PlatformLogLine {
  readonly event?: string;
  readonly level?: string;
  readonly [field: string]: unknown;
}

const ReadySchema = z.object({
  event: z.literal('ready'),
  bus: z.enum(['zmq', 'rmq']).default('zmq'),
  addresses: z.array(z.string()),
  serverkey: z.string().nullable(),
  instance: z.string(),
  pid: z.number(),
});

const AuthFileSchema = z.looseObject({ allow: z.array(z.unknown()).optional() });

const MAIN_RELATIVE = '../../../apps/platform/dist/main.js';

/** A platform process started by `startPlatform`. */
export class PlatformProcess extends EventEmitter {
  readonly home: string;
  /** The bus the platform said it runs on (ready line). */
  readonly bus: 'zmq' | 'rmq';
  readonly addresses: readonly string[];
  readonly serverkey: string | null;
  readonly instance: string;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #stderr: string[];
  readonly #exited: Promise<number | null>;
  readonly #stopGraceMs: number;
  #reloads = 0;
  /** The `allow` count of the last auth.json reload (logged with `auth.reloaded`). */
  #reloadedAllow = -1;
  #authChain: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;

  /** @internal built by startPlatform */
  constructor(init: {
    home: string;
    ready: z.infer<typeof ReadySchema>;
    child: ChildProcess;
    stderr: string[];
    exited: Promise<number | null>;
    stopGraceMs: number;
  }) {
    super();
    this.home = init.home;
    this.bus = init.ready.bus;
    this.addresses = init.ready.addresses;
    this.serverkey = init.ready.serverkey;
    this.instance = init.ready.instance;
    this.pid = init.ready.pid;
    this.#child = init.child;
    this.#stderr = init.stderr;
    this.#exited = init.exited;
    this.#stopGraceMs = init.stopGraceMs;
  }

  /** The first TCP address the platform bound (with its real port). */
  get tcpAddress(): string {
    const a = this.addresses.find((x) => x.startsWith('tcp://'));
    if (!a) throw new TransportError(`platform bound no tcp address (${this.addresses.join(', ')})`);
    return a;
  }

  /** Resolves with the exit code when the process ends. */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  /** The last lines the platform wrote on stderr. */
  stderrTail(lines = 30): string {
    return this.#stderr.slice(-lines).join('\n');
  }

  /** @internal one parsed stderr line */
  logLine(line: PlatformLogLine): void {
    if (line.event === 'auth.reloaded') {
      this.#reloads++;
      if (typeof line.allow === 'number') this.#reloadedAllow = line.allow;
    }
    this.emit('log', line);
  }

  /** The next log line with this event name (info level and above, unless started with `logLevel: 'debug'`). */
  waitForLog(event: string, options: { timeoutMs?: number } = {}): Promise<PlatformLogLine> {
    return new Promise((resolve, reject) => {
      const onLog = (line: PlatformLogLine) => {
        if (line.event !== event) return;
        clearTimeout(timer);
        this.off('log', onLog);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.off('log', onLog);
        reject(new TimeoutError(`waiting for platform log ${event}`, options.timeoutMs ?? 5_000));
      }, options.timeoutMs ?? 5_000);
      this.on('log', onLog);
    });
  }

  /**
   * Admit a CURVE public key (43-char base64url): appends an allow entry to auth.json and waits
   * until the platform has reloaded it (`auth.reloaded`).
   */
  authorize(publicKey: string, options: AuthorizeOptions = {}): Promise<void> {
    const run = this.#authChain.then(() => this.#authorize(publicKey, options));
    this.#authChain = run.catch(() => undefined);
    return run;
  }

  async #authorize(publicKey: string, options: AuthorizeOptions): Promise<void> {
    const path = join(this.home, 'auth.json');
    const parsed = AuthFileSchema.safeParse(parseJson(await readFile(path, 'utf8')));
    if (!parsed.success) throw new TransportError(`${path} is not an auth file: ${parsed.error.message}`);
    const data = parsed.data;
    const entry = {
      domain: null,
      address: null,
      mechanism: 'CURVE',
      credentials: publicKey,
      user_id: options.userId ?? options.identity ?? `user-${publicKey.slice(0, 8)}`,
      identity: options.identity ?? null,
      capabilities: options.capabilities ?? {},
      comments: 'added by @vip/testing authorize()',
      enabled: true,
    };
    const before = this.#reloads;
    const allow = [...(data.allow ?? []), entry];
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...data, allow }, null, 2), { mode: 0o600 });
    await rename(tmp, path);
    await this.#waitForAllow(allow.length, before, 10_000);
  }

  /**
   * Resolves once the platform has loaded auth.json as it is now (call it after writing the file,
   * e.g. with @vip/auth's AuthFile or vipctl). Waiting for the next `auth.reloaded` line instead is
   * racy: the platform logs one more reload a few ms after its ready line (seen at 50-90 ms on an idle
   * machine, later under load), and that reload, read before the test's write, may be the next line.
   */
  async authLoaded(options: { timeoutMs?: number; vipHome?: string } = {}): Promise<void> {
    const path = join(options.vipHome ?? this.home, 'auth.json'); // vipHome: the platform's own, when started with --vip-home
    const parsed = AuthFileSchema.safeParse(parseJson(await readFile(path, 'utf8')));
    if (!parsed.success) throw new TransportError(`${path} is not an auth file: ${parsed.error.message}`);
    await this.#waitForAllow((parsed.data.allow ?? []).length, -1, options.timeoutMs ?? 10_000);
  }

  /** Until a reload counted after `after` logged `count` allow entries or more: one that read what was written. */
  async #waitForAllow(count: number, after: number, timeoutMs: number): Promise<void> {
    await waitFor(() => this.#reloads > after && this.#reloadedAllow >= count, {
      timeoutMs,
      what: `platform reloading auth.json (${count} allow entries)`,
    });
  }

  /** SIGTERM, SIGKILL after the grace period, then remove the home. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      if (this.#child.exitCode === null && this.#child.signalCode === null) {
        this.#child.kill('SIGTERM');
        const timer = setTimeout(() => this.#child.kill('SIGKILL'), this.#stopGraceMs);
        await this.#exited;
        clearTimeout(timer);
      }
      await rm(this.home, { recursive: true, force: true });
    })());
  }
}

function platformMain(options: StartPlatformOptions): string {
  const path = options.mainPath ?? process.env.VIP_PLATFORM_MAIN ?? fileURLToPath(new URL(MAIN_RELATIVE, import.meta.url));
  if (!existsSync(path)) {
    throw new TransportError(`${path} does not exist: build the platform first (NX_DAEMON=false npx nx run @vip/platform:build)`);
  }
  return path;
}

/**
 * Spawn the built platform (`node apps/platform/dist/main.js`, by path) with a temporary
 * VIP_HOME on `tcp://127.0.0.1:*`, and wait for its ready line. Fails with the stderr tail when
 * the process exits first or the deadline passes.
 */
export async function startPlatform(options: StartPlatformOptions = {}): Promise<PlatformProcess> {
  const main = platformMain(options);
  const bus = options.bus ?? options.transport ?? 'zmq';
  if (bus === 'rmq' && !options.rmq)
    throw new TransportError('startPlatform({ bus: "rmq" }) needs rmq.vhost (a private virtual host per test file)');
  const home = await mkdtemp(join(tmpdir(), 'vip-platform-'));
  try {
    await options.prepareHome?.(home);
  } catch (err) {
    await rm(home, { recursive: true, force: true });
    throw err;
  }
  const args = [
    main,
    // a caller's own --vip-address replaces the default (a fixed port kept across restarts)
    ...((options.args ?? []).includes('--vip-address') ? [] : ['--vip-address', 'tcp://127.0.0.1:*']),
    '--instance-name',
    options.instanceName ?? 'vip-test',
    '--allow-auth',
    String(options.allowAuth ?? true),
    '--log-level',
    options.logLevel ?? 'info',
    '--message-bus',
    bus,
    ...rmqArgs(options.rmq),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    // as apps/platform/bin/vip-platform starts it (glibc returns large freed buffers; README "Memory")
    env: { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, VIP_HOME: home, VOLTTRON_HOME: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let platform: PlatformProcess | undefined;
  const early: Array<(line: string) => void> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 500) stderr.shift();
    const parsed = parseLogLine(line);
    if (parsed && platform) platform.logLine(parsed);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    for (const e of early) e(line);
  });

  const timeoutMs = options.startTimeoutMs ?? 20_000;
  try {
    const ready = await new Promise<z.infer<typeof ReadySchema>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TimeoutError(`platform start (stderr:\n${stderr.slice(-30).join('\n')})`, timeoutMs)),
        timeoutMs,
      );
      early.push((line) => {
        const r = parseReady(line);
        if (r) {
          clearTimeout(timer);
          resolve(r);
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        reject(new TransportError(`platform exited with code ${code} before it was ready; stderr:\n${stderr.slice(-30).join('\n')}`));
      }, reject);
    });
    platform = new PlatformProcess({ home, ready, child, stderr, exited, stopGraceMs: options.stopGraceMs ?? 5_000 });
    return platform;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(home, { recursive: true, force: true });
    throw err;
  }
}

function rmqArgs(rmq: StartPlatformOptions['rmq']): string[] {
  if (!rmq) return [];
  return [
    '--rmq-vhost',
    rmq.vhost,
    ...(rmq.url !== undefined ? ['--rmq-url', rmq.url] : []),
    ...(rmq.managementUrl !== undefined ? ['--rmq-management-url', rmq.managementUrl] : []),
    ...(rmq.sharedLogin ? ['--rmq-shared-login'] : []),
  ];
}

function parseReady(line: string): z.infer<typeof ReadySchema> | undefined {
  const json = parseJson(line);
  const r = ReadySchema.safeParse(json);
  return r.success ? r.data : undefined;
}

function parseLogLine(line: string): PlatformLogLine | undefined {
  const json = parseJson(line);
  return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as PlatformLogLine) : undefined;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined; // not a JSON line (e.g. a one-line error message): kept in the stderr tail only
  }
}

/**
 * The error of a platform start that must fail (the harness's, with the platform's stderr); a
 * start that succeeds is closed and rejects, so the caller's test fails.
 */
export function failedStart(start: Promise<PlatformProcess>): Promise<Error> {
  return start.then(
    async (platform) => {
      await platform.close();
      throw new Error('the platform started');
    },
    (e: unknown) => e as Error,
  );
}
