import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beamVmsUnder, holdPrivateRabbitMqSlot, killQuietly, privateRunDir, reapDeadRuns, type PrivateRabbitMqSlot } from '@vip/testing';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../tools/rmq-cluster.sh', import.meta.url));

/**
 * Private RabbitMQ nodes for a test file (tools/rmq-cluster.sh): their own node names, ports,
 * data dirs and cookie, never the shared broker at 5672. `start` fails loudly (never skips) when
 * they cannot start. Node n (1-based) listens for AMQP on base+n-1 and management on
 * base+10000+n-1.
 *
 * Safe in CI (@vip/testing private-rabbitmq-runs): `start` first waits for the machine-wide
 * private-RabbitMQ slot (the heavy suites never run at the same time, in this checkout or
 * another), kills nodes left by a run whose test process died, and puts the nodes in a fresh
 * per-run directory; `stop` stops them, removes the directory and gives the slot up.
 */
export class PrivateRabbitMq {
  readonly #options: { readonly base: number; readonly nodes: number; readonly prefix: string; readonly dir?: string };
  #dir: string | undefined;
  #slot: PrivateRabbitMqSlot | undefined;
  readonly base: number;
  readonly nodes: number;

  /** `dir`: only its last part is used, to name the per-run directory (made by `start`). */
  constructor(options: { readonly base: number; readonly nodes: number; readonly prefix: string; readonly dir?: string }) {
    this.#options = options;
    this.base = options.base;
    this.nodes = options.nodes;
  }

  /** This run's directory (nodes' data, logs, cookie); set by `start`. */
  get dir(): string {
    if (this.#dir === undefined) throw new Error('PrivateRabbitMq: not started');
    return this.#dir;
  }

  get #env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      VIP_RMQ_CLUSTER_BASE: String(this.base),
      VIP_RMQ_CLUSTER_NODES: String(this.nodes),
      VIP_RMQ_CLUSTER_DIR: this.dir,
      VIP_RMQ_CLUSTER_PREFIX: this.#options.prefix,
    };
  }

  /** `amqp://guest:guest@127.0.0.1:<port>` of node n. */
  url(n: number): string {
    return `amqp://guest:guest@127.0.0.1:${this.base + n - 1}`;
  }

  /** `amqp://127.0.0.1:<port>` of node n (a failover URL: no credentials). */
  address(n: number): string {
    return `amqp://127.0.0.1:${this.base + n - 1}`;
  }

  managementUrl(n: number): string {
    return `http://127.0.0.1:${this.base + 10_000 + n - 1}`;
  }

  management(n: number): { baseUrl: string; user: string; password: string } {
    return { baseUrl: this.managementUrl(n), user: 'guest', password: 'guest' };
  }

  async #script(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run('bash', [SCRIPT, ...args], { env: this.#env, timeout: 420_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`tools/rmq-cluster.sh ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
    }
  }

  /** Wait for the slot, reap dead runs' nodes, start the nodes in a new run directory (stopped again if that fails). */
  async start(): Promise<string> {
    if (this.#slot) throw new Error('PrivateRabbitMq: already started');
    const label = basename(this.#options.dir ?? this.#options.prefix);
    this.#slot = await holdPrivateRabbitMqSlot(`${label} (${this.nodes} private RabbitMQ node(s) from ${this.base})`);
    try {
      await reapDeadRuns();
      this.#dir = await privateRunDir(label);
      return await this.#script('start');
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Stop every node, kill what does not stop, remove the run directory, give the slot up. Idempotent. */
  async stop(): Promise<void> {
    const dir = this.#dir;
    try {
      if (dir !== undefined) {
        await this.#script('stop', '--wipe').catch(() => undefined);
        for (const vm of await beamVmsUnder(dir)) killQuietly(vm.pid);
        await rm(dir, { recursive: true, force: true });
        this.#dir = undefined;
      }
    } finally {
      const slot = this.#slot;
      this.#slot = undefined;
      await slot?.release();
    }
  }

  /** SIGKILL node n (its beam process, by pid). */
  kill(n: number): Promise<string> {
    return this.#script('kill', String(n));
  }

  restart(n: number): Promise<string> {
    return this.#script('restart', String(n));
  }

  /** rabbitmq-plugins on node n (always with -n): only ever this private node's plugins. */
  plugins(n: number, ...args: string[]): Promise<string> {
    return this.#script('plugins', String(n), ...args);
  }

  /** rabbitmqctl on node n (always with -n). */
  ctl(n: number, ...args: string[]): Promise<string> {
    return this.#script('ctl', String(n), ...args);
  }
}
