// KeyDiscoveryAgent against real /discovery/ endpoints (serveDiscovery on 127.0.0.1), with real
// files in temporary homes: setup mode records, normal mode links, a changed key is refused.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KnownHosts } from '@vip/auth';
import { ClosedError, ConfigError, generateKeyPair } from '@vip/protocol';
import { freePort, waitFor } from '@vip/testing';
import { formatCompactJson, keyDiscoveryPaths } from '../src/discovery-files.js';
import { serveDiscovery, type DiscoveryServer } from '../src/discovery-server.js';
import { KeyDiscoveryAgent, type KeyDiscoveryAgentOptions, type SetupModePlatform } from '../src/key-discovery-agent.js';
import type { DiscoveryInfo, PlatformDiscovery } from '../src/discovery-info.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'vip-keydiscovery-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  return home;
}

/** A remote platform as key discovery sees it: a /discovery/ endpoint publishing mutable values. */
interface RemotePlatform {
  readonly server: DiscoveryServer;
  info: DiscoveryInfo;
}

async function remote(instanceName: string, vipPort: number): Promise<RemotePlatform> {
  const platform = {
    info: { instanceName, vipAddress: `tcp://127.0.0.1:${vipPort}`, serverKey: generateKeyPair().public },
  } as RemotePlatform;
  const server = await serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info: () => platform.info });
  cleanups.push(() => server.close());
  return Object.assign(platform, { server });
}

/** The routing service's side: what each routing_table operation received. */
function recordingRouting() {
  const calls = { webAddresses: [] as string[][], setup: [] as SetupModePlatform[], normal: [] as PlatformDiscovery[] };
  return {
    calls,
    routing: {
      webAddresses: (a: readonly string[]) => void calls.webAddresses.push([...a]),
      setupModeConnection: (p: SetupModePlatform) => void calls.setup.push(p),
      normalModeConnection: (p: PlatformDiscovery) => void calls.normal.push(p),
    },
  };
}

function agentFor(
  home: string,
  options: Partial<KeyDiscoveryAgentOptions> & Pick<KeyDiscoveryAgentOptions, 'mode' | 'routing'>,
): KeyDiscoveryAgent {
  const agent = new KeyDiscoveryAgent({
    vipHome: home,
    instanceName: 'siteA',
    bindWebAddress: 'http://127.0.0.1:8080',
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    // Every endpoint here answers or refuses the connection at once: the timeout only bounds a hung
    // one, which no test has. It was 1 s, and the endpoint shares the test's process: on a loaded
    // 2-core machine an answer could come later, the attempt was retried, and normal mode's
    // `attempts: 2` (or `source: 'discovery'`) failed.
    fetch: { timeoutMs: 30_000 },
    ...options,
  });
  cleanups.push(() => agent.close());
  return agent;
}

const link = (p: RemotePlatform): PlatformDiscovery => ({
  instanceName: p.info.instanceName,
  vipAddress: p.info.vipAddress!,
  serverKey: p.info.serverKey!,
});

/** Setup mode on `home` against `remotes` (own web address listed too, as sites copy one file everywhere). */
async function setUp(home: string, remotes: RemotePlatform[]) {
  await writeFile(
    join(home, 'external_address.json'),
    JSON.stringify(['http://127.0.0.1:8080', ...remotes.map((r) => r.server.url)], null, 2),
  );
  const { calls, routing } = recordingRouting();
  const report = await agentFor(home, { mode: 'setup', routing }).run();
  return { calls, report };
}

describe('setup mode', () => {
  it('fetches each listed platform, records its key in known_hosts and the discovery file, and hands it over', async () => {
    const home = await tempHome();
    const [b, c] = [await remote('siteB', 22917), await remote('siteC', 22918)];
    const { calls, report } = await setUp(home, [b, c]);

    expect(calls.webAddresses).toEqual([[b.server.url, c.server.url]]); // own address removed
    expect(report.results.map((r) => [r.target, r.outcome])).toEqual([
      [b.server.url, 'discovered'],
      [c.server.url, 'discovered'],
    ]);
    expect(calls.setup.sort((x, y) => x.instanceName.localeCompare(y.instanceName))).toEqual([
      { ...link(b), webAddress: b.server.url },
      { ...link(c), webAddress: c.server.url },
    ]);
    expect(calls.normal).toEqual([]);

    const hosts = KnownHosts.forHome(home);
    expect(await hosts.get(b.info.vipAddress!)).toBe(b.info.serverKey);
    expect(await hosts.get(c.info.vipAddress!)).toBe(c.info.serverKey);
    // VOLTTRON's format: compact, the answer as received, plus where it came from
    const stored = await readFile(keyDiscoveryPaths(home).platformDiscovery, 'utf8');
    expect(stored).toBe(formatCompactJson(JSON.parse(stored))); // compact, no trailing newline
    expect(JSON.parse(stored)).toEqual({
      siteB: { serverkey: b.info.serverKey, 'vip-address': b.info.vipAddress, 'instance-name': 'siteB', 'web-address': b.server.url },
      siteC: { serverkey: c.info.serverKey, 'vip-address': c.info.vipAddress, 'instance-name': 'siteC', 'web-address': c.server.url },
    });
    // each entry keeps the answer's key order (VOLTTRON stores the answer as it came)
    expect(Object.keys((JSON.parse(stored) as Record<string, object>).siteB!)).toEqual([
      'serverkey',
      'vip-address',
      'instance-name',
      'web-address',
    ]);
  });

  it('refuses a platform whose key differs from the one known_hosts records for its address', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    const recorded = generateKeyPair().public;
    await KnownHosts.forHome(home).add(b.info.vipAddress!, recorded);
    const { calls, report } = await setUp(home, [b]);
    expect(report.results).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        attempts: 1,
        error: expect.objectContaining({
          code: 'VIP_KEY_CHANGED',
          recordedIn: 'known_hosts',
          recordedKey: recorded,
          offeredKey: b.info.serverKey,
          instanceName: 'siteB',
        }),
      }),
    ]);
    expect(calls.setup).toEqual([]);
    expect(await KnownHosts.forHome(home).get(b.info.vipAddress!)).toBe(recorded);
  });

  it('an unreadable known_hosts fails the platforms it concerns, in the report; the run itself completes', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    await writeFile(join(home, 'known_hosts'), '{"127.0.0.1:22917": ');
    const { calls, report } = await setUp(home, [b]);
    expect(report.results).toEqual([expect.objectContaining({ outcome: 'failed', error: expect.objectContaining({ code: 'VIP_KEY' }) })]);
    expect(calls.setup).toEqual([]);
  });

  it('an unreadable discovery file stops setup mode before anything is fetched', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    await writeFile(keyDiscoveryPaths(home).platformDiscovery, '{"siteB": ');
    await expect(setUp(home, [b])).rejects.toThrow(/platform discovery file .* is not valid JSON/);
    expect(b.server.stats().responses).toEqual({});
  });

  it('needs a bind-web-address and external_address.json (ConfigError before anything is fetched)', async () => {
    const home = await tempHome();
    const { routing } = recordingRouting();
    await expect(agentFor(home, { mode: 'setup', routing, bindWebAddress: undefined }).run()).rejects.toThrow(/bind-web-address/);
    await expect(agentFor(home, { mode: 'setup', routing }).run()).rejects.toThrow(
      new RegExp(`${join(home, 'external_address.json')}, which does not exist`),
    );
  });

  it('reports a bad web address on its own and goes on with the others', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    await writeFile(join(home, 'external_address.json'), JSON.stringify(['10.0.0.9:8080', 'https://10.0.0.9', b.server.url]));
    const { calls, routing } = recordingRouting();
    const { results } = await agentFor(home, { mode: 'setup', routing }).run();
    expect(results.map((r) => [r.outcome, r.outcome === 'discovered' ? '' : r.error.constructor.name])).toEqual([
      ['failed', 'ConfigError'],
      ['failed', 'ConfigError'],
      ['discovered', ''],
    ]);
    expect(calls.webAddresses).toEqual([[b.server.url]]);
  });
});

describe('normal mode', () => {
  it('reaches every recorded platform: each endpoint asked again, a hand-written entry used as written', async () => {
    const home = await tempHome();
    const [b, c] = [await remote('siteB', 22917), await remote('siteC', 22918)];
    await setUp(home, [b, c]);
    // a platform written in by hand (VOLTTRON's manual configuration): no web address
    const d = { instanceName: 'siteD', vipAddress: 'tcp://127.0.0.1:22919', serverKey: generateKeyPair().public };
    const path = keyDiscoveryPaths(home).platformDiscovery;
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(
      path,
      JSON.stringify({ ...file, siteD: { 'vip-address': d.vipAddress, 'instance-name': d.instanceName, serverkey: d.serverKey } }),
    );
    const before = await readFile(path, 'utf8');

    const { calls, routing } = recordingRouting();
    const agent = agentFor(home, { mode: 'normal', routing });
    const { results } = await agent.run();
    expect(results.map((r) => [r.target, r.outcome, r.outcome === 'discovered' && r.source])).toEqual([
      ['siteB', 'discovered', 'discovery'],
      ['siteC', 'discovered', 'discovery'],
      ['siteD', 'discovered', 'file'],
    ]);
    // handed over as each answer came (platforms are fetched at once)
    expect(calls.normal.sort((x, y) => x.instanceName.localeCompare(y.instanceName))).toEqual([link(b), link(c), d]);
    expect(calls.setup).toEqual([]);
    expect(await readFile(path, 'utf8')).toBe(before); // nothing changed, nothing rewritten
    expect(await KnownHosts.forHome(home).get(d.vipAddress)).toBe(d.serverKey);
    expect(agent.status().map((s) => [s.target, s.state])).toEqual([
      ['siteB', 'discovered'],
      ['siteC', 'discovered'],
      ['siteD', 'discovered'],
    ]);
    expect(agent.stats()).toMatchObject({ discovered: 3, refused: 0, failed: 0, attempts: 2 });
  });

  it('a platform that changed its key is refused and reported; the others still link', async () => {
    const home = await tempHome();
    const [b, c] = [await remote('siteB', 22917), await remote('siteC', 22918)];
    await setUp(home, [b, c]);
    const oldKey = b.info.serverKey!;
    b.info = { ...b.info, serverKey: generateKeyPair().public }; // re-keyed, or someone in the middle

    const { calls, routing } = recordingRouting();
    const { results } = await agentFor(home, { mode: 'normal', routing }).run();
    expect(results[0]).toMatchObject({
      outcome: 'refused',
      target: 'siteB',
      error: { code: 'VIP_KEY_CHANGED', recordedKey: oldKey, offeredKey: b.info.serverKey, recordedIn: 'known_hosts', url: b.server.url },
    });
    expect(results[0]!.outcome !== 'discovered' && results[0]!.error.message).toMatch(/acceptChangedKeys: \["siteB"\]/);
    expect(results[1]).toMatchObject({ outcome: 'discovered', target: 'siteC' });
    expect(calls.normal).toEqual([link(c)]);
    expect(await KnownHosts.forHome(home).get(b.info.vipAddress!)).toBe(oldKey);
  });

  it('a changed key the operator accepts for that instance is recorded and linked', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    await setUp(home, [b]);
    const oldKey = b.info.serverKey!;
    b.info = { ...b.info, serverKey: generateKeyPair().public, vipAddress: 'tcp://127.0.0.1:23000' }; // new key, new port

    const { calls, routing } = recordingRouting();
    const accepting = agentFor(home, { mode: 'normal', routing, acceptChangedKeys: ['siteC'] }); // another name: still refused
    expect((await accepting.run()).results[0]).toMatchObject({
      outcome: 'refused',
      error: { recordedIn: 'external_platform_discovery.json' },
    });

    const { results } = await agentFor(home, { mode: 'normal', routing, acceptChangedKeys: ['siteB'] }).run();
    expect(results[0]).toMatchObject({
      outcome: 'discovered',
      source: 'discovery',
      keyChanged: { recordedKey: oldKey, recordedIn: 'external_platform_discovery.json' },
    });
    expect(calls.normal).toEqual([link(b)]);
    expect(await KnownHosts.forHome(home).get(b.info.vipAddress!)).toBe(b.info.serverKey);
    const stored = JSON.parse(await readFile(keyDiscoveryPaths(home).platformDiscovery, 'utf8')) as Record<string, Record<string, string>>;
    expect(stored.siteB).toMatchObject({
      serverkey: b.info.serverKey,
      'vip-address': 'tcp://127.0.0.1:23000',
      'web-address': b.server.url,
    });
  });

  it('an endpoint that no longer answers: retried within bounds, then the recorded entry is used', async () => {
    const home = await tempHome();
    const b = await remote('siteB', 22917);
    await setUp(home, [b]);
    await b.server.close();

    const { calls, routing } = recordingRouting();
    const { results } = await agentFor(home, { mode: 'normal', routing }).run();
    expect(results).toEqual([
      expect.objectContaining({
        outcome: 'discovered',
        source: 'file',
        attempts: 3,
        fetchError: expect.objectContaining({ code: 'VIP_DISCOVERY_UNREACHABLE' }),
      }),
    ]);
    expect(calls.normal).toEqual([link(b)]);
  });

  it('a hand-written entry whose key disagrees with known_hosts is refused', async () => {
    const home = await tempHome();
    const recorded = generateKeyPair().public;
    await KnownHosts.forHome(home).add('tcp://10.1.1.1:22916', recorded);
    await writeFile(
      keyDiscoveryPaths(home).platformDiscovery,
      JSON.stringify({ siteB: { 'vip-address': 'tcp://10.1.1.1:22916', 'instance-name': 'siteB', serverkey: generateKeyPair().public } }),
    );
    const { calls, routing } = recordingRouting();
    const { results } = await agentFor(home, { mode: 'normal', routing }).run();
    expect(results).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        attempts: 0,
        error: expect.objectContaining({ code: 'VIP_KEY_CHANGED', recordedKey: recorded }),
      }),
    ]);
    expect(calls.normal).toEqual([]);
  });

  it('skips its own entry, reports bad entries, and survives a throwing handler', async () => {
    const home = await tempHome();
    const keyB = generateKeyPair().public;
    await writeFile(
      keyDiscoveryPaths(home).platformDiscovery,
      JSON.stringify({
        siteA: { 'vip-address': 'tcp://127.0.0.1:22916', 'instance-name': 'siteA', serverkey: generateKeyPair().public },
        broken: { 'vip-address': 'tcp://127.0.0.1:22920', serverkey: 'nope' },
        wrongType: 'tcp://x',
        siteB: { 'vip-address': 'tcp://127.0.0.1:22921', serverkey: keyB },
        siteC: { 'vip-address': 'tcp://127.0.0.1:22922', serverkey: generateKeyPair().public },
      }),
    );
    const linked: string[] = [];
    const routing = {
      webAddresses: () => undefined,
      setupModeConnection: () => undefined,
      normalModeConnection: (p: PlatformDiscovery) => {
        if (p.instanceName === 'siteC') throw new Error('routing service not ready');
        linked.push(p.instanceName);
      },
    };
    const { results } = await agentFor(home, { mode: 'normal', routing }).run();
    expect(results.map((r) => [r.target, r.outcome])).toEqual([
      ['siteA', 'skipped'],
      ['broken', 'failed'],
      ['wrongType', 'failed'],
      ['siteB', 'discovered'],
      ['siteC', 'failed'],
    ]);
    expect(results[1]!.outcome !== 'discovered' && results[1]!.error).toBeInstanceOf(ConfigError);
    expect(results[4]!.outcome !== 'discovered' && results[4]!.error.message).toBe('routing service not ready');
    expect(linked).toEqual(['siteB']); // an entry without instance-name takes its key's name
  });

  it('with no discovery file there is nothing to link; an unreadable one is a ConfigError naming it', async () => {
    const home = await tempHome();
    const { routing } = recordingRouting();
    expect(await agentFor(home, { mode: 'normal', routing }).run()).toEqual({ mode: 'normal', results: [] });
    await writeFile(keyDiscoveryPaths(home).platformDiscovery, '{not json');
    await expect(agentFor(home, { mode: 'normal', routing }).run()).rejects.toThrow(
      /platform discovery file .*external_platform_discovery\.json is not valid JSON/,
    );
  });
});

describe('close()', () => {
  it('ends waits between attempts at once: run() resolves, unsettled platforms fail with ClosedError', async () => {
    const home = await tempHome();
    const url = `http://127.0.0.1:${await freePort()}`;
    await writeFile(join(home, 'external_address.json'), JSON.stringify([url]));
    const { routing } = recordingRouting();
    // a policy that would wait ten minutes between attempts
    const agent = agentFor(home, { mode: 'setup', routing, retry: { attempts: 10, baseDelayMs: 600_000, maxDelayMs: 600_000 } });
    const run = agent.run();
    await waitFor(() => agent.status().some((s) => s.state === 'waiting'), { what: 'the first failed attempt' });
    await agent.close();
    const { results } = await run;
    expect(results).toEqual([expect.objectContaining({ outcome: 'failed', attempts: 1, error: expect.any(ClosedError) })]);
    await expect(agent.run()).resolves.toBe(await run); // the same run
    await expect(
      agentFor(home, { mode: 'setup', routing })
        .close()
        .then(() => undefined),
    ).resolves.toBeUndefined();
  });

  it('run() after close() rejects with ClosedError', async () => {
    const home = await tempHome();
    const { routing } = recordingRouting();
    const agent = agentFor(home, { mode: 'normal', routing });
    await agent.close();
    await expect(agent.run()).rejects.toBeInstanceOf(ClosedError);
  });
});
