import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import { AuthFile } from '@vip/auth';
import { generateKeyPair } from '@vip/protocol';
import { freePort, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

/** One platform of a multi-platform test: its own home, fixed VIP and web ports (kept across restarts). */
export class Site {
  readonly agents: Agent[] = [];
  readonly keys = new Map<string, { public: string; secret: string }>();
  platform: PlatformProcess | undefined;
  private constructor(
    readonly name: string,
    readonly home: string,
    readonly vipAddress: string,
    readonly webAddress: string,
  ) {}

  static async create(name: string): Promise<Site> {
    const home = await mkdtemp(join(tmpdir(), `vip-multi-${name}-`));
    return new Site(name, home, `tcp://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`);
  }

  /** Start (or restart) the platform on the same home and ports; `setup`: key discovery in setup mode. */
  async start(options: { setup?: boolean; extraArgs?: readonly string[] } = {}): Promise<PlatformProcess> {
    this.platform = await startPlatform({
      instanceName: this.name,
      logLevel: 'info',
      args: [
        '--vip-home',
        this.home,
        '--vip-address',
        this.vipAddress,
        '--bind-web-address',
        this.webAddress,
        '--pubsub-restore-grace',
        '0',
        ...(options.setup ? ['--setup-mode'] : []),
        ...(options.extraArgs ?? []),
      ],
    });
    return this.platform;
  }

  async kill9(): Promise<void> {
    const p = this.platform;
    if (p === undefined) return;
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
    await p.close();
  }

  /** Admit a fresh key under `identity` (user id `userId`, default the identity) and start an agent with it. */
  async agent(identity: string, userId = identity, rpcTimeoutMs = 15_000): Promise<Agent> {
    const p = this.needPlatform();
    let pair = this.keys.get(identity);
    if (pair === undefined) {
      // admitted once; after a restart the same key is in auth.json already
      pair = generateKeyPair();
      this.keys.set(identity, pair);
      await this.addAuth({ credentials: pair.public, user_id: userId, identity, comments: 'multi-platform test' });
    }
    const agent = await createZmqAgent({
      identity,
      address: this.vipAddress,
      serverKey: p.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: this.home,
      reconnectIntervalMs: 100,
      requestTimeoutMs: rpcTimeoutMs,
      rpc: { timeoutMs: rpcTimeoutMs },
    });
    this.agents.push(agent);
    await agent.start();
    return agent;
  }

  /** Append an auth.json entry and wait for the platform to reload it. */
  async addAuth(entry: {
    credentials: string;
    user_id: string;
    identity?: string;
    capabilities?: Record<string, null>;
    comments?: string;
  }): Promise<void> {
    const p = this.needPlatform();
    const reloaded = p.waitForLog('auth.reloaded', { timeoutMs: 10_000 });
    await new AuthFile({ path: join(this.home, 'auth.json') }).add(entry);
    await reloaded;
  }

  async writeJson(file: string, value: unknown): Promise<void> {
    await writeFile(join(this.home, file), JSON.stringify(value));
  }

  async discoveryFile(): Promise<Record<string, unknown>> {
    try {
      return JSON.parse(await readFile(join(this.home, 'external_platform_discovery.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  }

  /** The platform's `vip-router-stats` (asked through `agent`). */
  static async stats(agent: Agent): Promise<RouterStatsWithLinks> {
    const value = await agent.query.query('vip-router-stats');
    return (typeof value === 'string' ? JSON.parse(value) : value) as RouterStatsWithLinks;
  }

  /** Wait until `agent`'s platform reports each of `instances` CONNECTED (`up`) or not (`down`). */
  static async waitForLinks(agent: Agent, instances: readonly string[], want: 'up' | 'down' = 'up', timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const stats = await Site.stats(agent);
        return instances.every((i) => stats.platforms?.some((p) => p.instance === i && (p.state === 'CONNECTED') === (want === 'up')));
      },
      { timeoutMs, intervalMs: 100, what: `links of ${agent.identity}'s platform to ${instances.join(', ')} ${want}` },
    );
  }

  async stop(): Promise<void> {
    for (const a of this.agents.splice(0)) await a.close().catch(() => undefined);
    await this.platform?.close();
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.home, { recursive: true, force: true });
  }

  private needPlatform(): PlatformProcess {
    if (this.platform === undefined) throw new Error(`${this.name} is not running`);
    return this.platform;
  }
}

export interface LinkStatusView {
  readonly instance: string;
  readonly state: string;
  readonly since: number;
  readonly handshake: string;
  readonly counters: Record<string, number>;
}

export interface RouterStatsWithLinks {
  readonly platforms?: readonly LinkStatusView[];
  readonly router: { readonly extensions: Record<string, Record<string, number>> };
}

/** Link three sites through discovery: setup mode once (each lists the other two), then normal mode. */
export async function linkThroughDiscovery(sites: readonly Site[]): Promise<void> {
  for (const s of sites)
    await s.writeJson(
      'external_address.json',
      sites.filter((o) => o !== s).map((o) => o.webAddress),
    );
  await Promise.all(sites.map((s) => s.start({ setup: true })));
  await waitFor(
    async () => {
      const files = await Promise.all(sites.map((s) => s.discoveryFile()));
      return files.every((f) => Object.keys(f).length === sites.length - 1);
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'setup mode recording every other platform' },
  );
  for (const s of sites) await s.stop();
  await Promise.all(sites.map((s) => s.start()));
}

const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));

/** Run the built vipctl against a site's home; never rejects (the exit code is in the result). */
export function vipctl(site: Site, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [VIPCTL, ...args, '--vip-home', site.home],
      { timeout: 30_000, env: { ...process.env, VIP_HOME: site.home } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
