import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../tools/rmq-cluster.sh', import.meta.url));

/**
 * Private RabbitMQ nodes for a test file (tools/rmq-cluster.sh): their own node names, ports,
 * data dirs and cookie, never the shared broker at 5672. `start` fails loudly (never skips) when
 * they cannot start. Node n (1-based) listens for AMQP on base+n-1 and management on
 * base+10000+n-1.
 */
export class PrivateRabbitMq {
  readonly #env: NodeJS.ProcessEnv;
  readonly base: number;
  readonly nodes: number;

  constructor(options: { readonly base: number; readonly nodes: number; readonly dir: string; readonly prefix: string }) {
    this.base = options.base;
    this.nodes = options.nodes;
    this.#env = {
      ...process.env,
      VIP_RMQ_CLUSTER_BASE: String(options.base),
      VIP_RMQ_CLUSTER_NODES: String(options.nodes),
      VIP_RMQ_CLUSTER_DIR: options.dir,
      VIP_RMQ_CLUSTER_PREFIX: options.prefix,
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

  start(): Promise<string> {
    return this.#script('start');
  }

  /** Stop every node; `wipe` also removes their data dirs. */
  stop(wipe = true): Promise<string> {
    return this.#script('stop', ...(wipe ? ['--wipe'] : []));
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
