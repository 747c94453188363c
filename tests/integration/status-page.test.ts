import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get, type ClientRequest } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { freePort, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const PLATFORM = fileURLToPath(new URL('../../apps/platform/dist/main.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const run = promisify(execFile);

const PUB = 'sp.publisher';
const PUB_USER = 'sp-publisher-user';
const SUB = 'sp.subscriber';
const PREFIX = 'statuspage/';
const TOPIC = 'statuspage/ahu1';
/** The background publisher's bound: one message every 100 ms, at most this many. */
const MAX_BACKGROUND = 600;

/** A built binary's exit code and output (a non-zero exit is a result here). */
async function exitOf(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [file, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
}

/** `/metrics` parsed by a Prometheus text-format parser: name -> samples. */
async function metrics(
  url: string,
  headers: Record<string, string> = {},
): Promise<Map<string, { type: string; samples: { value: number; labels: Record<string, string> }[] }>> {
  const res = await fetch(new URL('metrics', url), { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await res.text());
  return new Map(
    families.map((f) => [
      f.name,
      {
        type: f.type,
        samples: f.metrics.map((m) => ({ value: Number(m.value), labels: { ...(m.labels ?? {}) } })),
      },
    ]),
  );
}

function single(m: Awaited<ReturnType<typeof metrics>>, name: string): number {
  const family = m.get(name);
  if (!family) throw new Error(`/metrics has no ${name}`);
  return family.samples.reduce((sum, s) => sum + s.value, 0);
}

/**
 * What the browser-side functions below use of the page's document: this project's TypeScript has
 * no DOM types, and the page's Content-Security-Policy forbids evaluating code given as text.
 */
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  readonly cells: ArrayLike<PageElement>;
}
interface PageDocument {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}

/** Browser side: the page's live-feed badge is in `state`. */
function feedIs(state: string): boolean {
  return (globalThis as unknown as { document: PageDocument }).document.getElementById('feed')?.dataset.state === state;
}

/** Debian's chromium, headless, with a fresh profile; fails loudly when it is missing (tools/ensure-chromium.sh installs it). */
async function launchChromium(profile: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run bash tools/ensure-chromium.sh (apt-get install chromium); the status page is tested in a real browser`,
    );
  }
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

describe('the status page in headless Chromium, /metrics and vipctl top, against a platform with agents publishing', () => {
  let platform: PlatformProcess;
  let url: string;
  let publisher: Agent;
  let subscriber: Agent;
  let received = 0;
  let published = 0;
  let background: NodeJS.Timeout | undefined;
  let browser: BrowserContext;
  let profile: string;

  const stopBackground = async () => {
    clearInterval(background);
    background = undefined;
    await waitFor(() => received === published, { timeoutMs: 15_000, what: 'the subscriber receiving every background message' });
  };

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'vip-chromium-'));
    browser = await launchChromium(profile);
    const port = await freePort();
    platform = await startPlatform({ args: ['--http', `127.0.0.1:${port}`] });
    url = `http://127.0.0.1:${port}/`;
    const agent = async (identity: string, userId: string) => {
      const pair = generateKeyPair();
      await platform.authorize(pair.public, { identity, userId });
      const a = await createZmqAgent({
        identity,
        address: platform.tcpAddress,
        serverKey: platform.serverkey ?? '',
        publicKey: pair.public,
        secretKey: pair.secret,
        vipHome: platform.home,
      });
      await a.start().catch((err: unknown) => {
        throw new Error(`${String(err)}\n${platform.stderrTail(40)}`);
      });
      return a;
    };
    publisher = await agent(PUB, PUB_USER);
    subscriber = await agent(SUB, SUB);
    await subscriber.pubsub!.subscribe(PREFIX, () => void received++);
  });

  afterAll(async () => {
    clearInterval(background);
    await browser?.close();
    await publisher?.close();
    await subscriber?.close();
    await platform?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows the peers with their users, the topic the test subscribed with its count, and a rate chart that moves; saves a screenshot', async () => {
    background = setInterval(() => {
      if (published >= MAX_BACKGROUND) return void clearInterval(background);
      published++;
      void publisher.pubsub!.publish(TOPIC, { message: { temp: 20 + (published % 5) } });
    }, 100);
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(feedIs, 'live', { timeout: 15_000 });

    const rowOf = async (table: string, first: string): Promise<(string | null)[] | undefined> =>
      (await page.evaluate(
        ([t, f]) => {
          const doc = (globalThis as unknown as { document: PageDocument }).document;
          const row = Array.from(doc.querySelectorAll(`#${t} tbody tr`)).find((tr) => tr.cells[0]?.textContent === f);
          return row ? Array.from(row.cells).map((c) => c.textContent) : null;
        },
        [table, first] as const,
      )) ?? undefined;
    await waitFor(async () => (await rowOf('peers', PUB)) !== undefined && (await rowOf('peers', SUB)) !== undefined, {
      timeoutMs: 15_000,
      what: 'both agents on the page',
    });
    expect((await rowOf('peers', PUB))?.slice(0, 3)).toEqual([PUB, PUB_USER, 'zmq']);
    expect((await rowOf('peers', SUB))?.slice(0, 3)).toEqual([SUB, SUB, 'zmq']);
    await waitFor(async () => (await rowOf('topics', PREFIX)) !== undefined, {
      timeoutMs: 15_000,
      what: 'the subscribed prefix on the page',
    });
    expect(await rowOf('topics', PREFIX)).toEqual([PREFIX, '(default)', '1']);

    // the chart moves: new samples arrive and the message rate is above zero while the agent publishes
    expect(await page.locator('#rates canvas').count()).toBeGreaterThan(0);
    const before = Number(await page.locator('#rates').getAttribute('data-samples'));
    await page.waitForFunction(
      (n) => {
        const el = (globalThis as unknown as { document: PageDocument }).document.getElementById('rates');
        return (
          el !== null && Number(el.dataset.samples) >= n + 3 && Number(el.dataset.lastMessages) > 0 && Number(el.dataset.lastDeliveries) > 0
        );
      },
      before,
      { timeout: 20_000 },
    );
    expect(await page.locator('#links tbody').textContent()).toBe('no linked platforms');
    expect(await page.locator('#tracker').textContent()).toMatch(/^off/);
    // nothing secret on the page: no server key
    expect(await page.content()).not.toContain(platform.serverkey ?? '<no key>');

    await mkdir(RESULTS, { recursive: true });
    const shot = join(RESULTS, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    await page.close();
  });

  it('/metrics parses as Prometheus text, and its counters follow the traffic the test sent', async () => {
    await stopBackground();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the publisher's last replies
    const m1 = await metrics(url);
    const K = 25;
    for (let i = 0; i < K; i++) expect(await publisher.pubsub!.publish(TOPIC, { message: i })).toBe(1);
    published += K;
    await waitFor(() => received === published, { what: 'the subscriber receiving the counted messages' });
    const m2 = await metrics(url);
    expect(single(m2, 'vip_pubsub_published_total') - single(m1, 'vip_pubsub_published_total')).toBe(K);
    expect(single(m2, 'vip_pubsub_delivered_total') - single(m1, 'vip_pubsub_delivered_total')).toBe(K);
    expect(single(m2, 'vip_router_received_messages_total') - single(m1, 'vip_router_received_messages_total')).toBeGreaterThanOrEqual(K);
    expect(single(m2, 'vip_pubsub_published_total')).toBe(published);
    // the test's subscriber and the platform's own platform.health (heartbeat, alerts/)
    expect(single(m2, 'vip_pubsub_subscribers')).toBe(2);
    const status = (await (await fetch(new URL('status.json', url))).json()) as { peers: unknown[] };
    expect(single(m2, 'vip_router_peers')).toBe(status.peers.length);
    expect(single(m2, 'vip_agent_links')).toBe(status.peers.length);
    expect(single(m2, 'vip_agent_links_joined_total')).toBeGreaterThanOrEqual(4); // platform.auth, control, the two agents
    for (const [name, family] of m2) if (name.startsWith('vip_') && name.endsWith('_total')) expect(family.type, name).toBe('COUNTER');
    expect(m2.get('vip_router_peers')?.type).toBe('GAUGE');
    expect(m2.has('vip_zmq_received_messages_total')).toBe(true);
    expect(m2.has('process_cpu_seconds_total')).toBe(true);
  });

  it('vipctl top --once prints the board: peers with their users, the topic and its subscriber count (exit 0)', async () => {
    const human = await exitOf(VIPCTL, ['top', '--once', '--vip-home', platform.home]);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^vip ${platform.instance}  zmq bus`));
    expect(human.stdout).toMatch(new RegExp(`^${PUB.replace('.', '\\.')}\\s+${PUB_USER}\\s+zmq`, 'm'));
    expect(human.stdout).toMatch(/^statuspage\/\s+\(default\)\s+1$/m);
    const json = await exitOf(VIPCTL, ['top', '--once', '--json', '--vip-home', platform.home]);
    const board = JSON.parse(json.stdout) as { topics: unknown[]; totals: { published: number } };
    // the test's prefix next to platform.health's own subscriptions
    expect(board.topics).toEqual([
      { bus: '', prefix: 'alerts/', subscribers: 1 },
      { bus: '', prefix: 'heartbeat', subscribers: 1 },
      { bus: '', prefix: PREFIX, subscribers: 1 },
    ]);
    expect(board.totals.published).toBe(published);
    expect((await exitOf(VIPCTL, ['top', '--interval', '0', '--vip-home', platform.home])).code).toBe(2);
  });

  it('without a token (loopback): a request naming another host is refused (DNS rebinding); live clients are bounded (503 past 8)', async () => {
    const status = (path: string, host?: string): Promise<{ code: number; request: ClientRequest }> =>
      new Promise((resolve, reject) => {
        const request = get(new URL(path, url), host === undefined ? {} : { headers: { Host: host } }, (res) =>
          resolve({ code: res.statusCode ?? 0, request }),
        );
        request.on('error', reject);
      });
    for (const path of ['status.json', 'metrics', 'events', '']) {
      const foreign = await status(path, 'attacker.example:80');
      foreign.request.destroy();
      expect(foreign.code, path).toBe(421);
    }
    const open: ClientRequest[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const live = await status('events');
        open.push(live.request);
        expect(live.code).toBe(200);
      }
      const ninth = await status('events');
      ninth.request.destroy();
      expect(ninth.code).toBe(503);
    } finally {
      for (const r of open) r.destroy();
    }
    await waitFor(async () => (await status('events').then((r) => (r.request.destroy(), r.code))) === 200, {
      what: 'a live slot freed once a client left',
    });
  });

  it('with a token: data refused without it (401), served with it, read by the page from #token=; a non-loopback bind without a token does not start', async () => {
    const refused = await exitOf(PLATFORM, ['--vip-home', platform.home, '--http', `0.0.0.0:${await freePort()}`]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--http 0\.0\.0\.0:\d+ is not a loopback address: give --http-token-file/);

    const dir = await mkdtemp(join(tmpdir(), 'vip-token-'));
    const token = `t-${Date.now()}-status-page-token`;
    await writeFile(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const guarded = await startPlatform({ args: ['--http', `127.0.0.1:${port}`, '--http-token-file', join(dir, 'token')] });
    try {
      const base = `http://127.0.0.1:${port}/`;
      for (const path of ['status.json', 'metrics', 'events']) {
        expect((await fetch(new URL(path, base))).status, path).toBe(401);
        expect((await fetch(new URL(path, base), { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).status, path).toBe(
          401,
        );
      }
      const ok = await fetch(new URL('status.json', base), { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { instance: string }).instance).toBe(guarded.instance);
      expect(single(await metrics(base, { Authorization: `Bearer ${token}` }), 'vip_router_peers')).toBeGreaterThanOrEqual(1);
      const page = await browser.newPage();
      await page.goto(base);
      await page.waitForFunction(feedIs, 'error', { timeout: 15_000 });
      expect(await page.locator('#feed').textContent()).toMatch(/token required/);
      await page.goto(`${base}#token=${token}`);
      await page.reload();
      await page.waitForFunction(feedIs, 'live', { timeout: 15_000 });
      await page.locator('#peers tbody tr td', { hasText: 'platform.auth' }).first().waitFor({ timeout: 15_000 });
      expect(await page.content()).not.toContain(token);
      await page.close();
    } finally {
      await guarded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('/metrics and the board on a RabbitMQ platform', () => {
  const MANAGEMENT = 'http://127.0.0.1:15672';
  const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const INSTANCE = `vipstatus${process.pid}`;
  const VHOST = `vip-status-${process.pid}`;
  let platform: PlatformProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    platform = await startPlatform({ bus: 'rmq', instanceName: INSTANCE, rmq: { vhost: VHOST }, args: ['--http', `127.0.0.1:${port}`] });
    url = `http://127.0.0.1:${port}/`;
  });
  afterAll(async () => {
    await platform?.close();
    // what this test made on the shared broker: its vhost and the platform's broker user
    await fetch(`${MANAGEMENT}/api/vhosts/${encodeURIComponent(VHOST)}`, { method: 'DELETE', headers: { Authorization: AUTH } });
    await fetch(`${MANAGEMENT}/api/users/${encodeURIComponent(`${INSTANCE}.router`)}`, {
      method: 'DELETE',
      headers: { Authorization: AUTH },
    });
  });

  it('serves the RabbitMQ counters under vip_rmq_*; peers show the broker user the bus proved', async () => {
    await waitFor(async () => single(await metrics(url), 'vip_router_peers') >= 2, {
      timeoutMs: 15_000,
      what: 'platform.auth and control on the board',
    });
    const m = await metrics(url);
    expect(single(m, 'vip_rmq_received_messages_total')).toBeGreaterThan(0);
    expect(single(m, 'vip_rmq_received_messages_total')).toBeGreaterThanOrEqual(single(m, 'vip_router_received_messages_total'));
    expect(single(m, 'vip_rmq_reconnects_total')).toBe(0);
    expect(m.get('vip_rmq_pending_confirm_bytes')?.type).toBe('GAUGE');
    expect([...m.keys()].filter((n) => n.startsWith('vip_zmq_'))).toEqual([]);
    const board = (await (await fetch(new URL('status.json', url))).json()) as {
      bus: string;
      peers: { identity: string; user: string; bus: string }[];
    };
    expect(board.bus).toBe('rmq');
    expect(board.peers.find((p) => p.identity === 'control')).toMatchObject({ bus: 'rmq', user: `${INSTANCE}.control` }); // its own broker user
  });
});
