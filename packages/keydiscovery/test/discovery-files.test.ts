// VOLTTRON's key discovery files (fixtures/keydiscovery/volttron-home, written in the formats
// VOLTTRON's PersistentDict and KnownHostsStore write) read, updated and written back.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KnownHosts } from '@vip/auth';
import { ConfigError } from '@vip/protocol';
import { formatCompactJson, keyDiscoveryPaths, PlatformDiscoveryFile, readExternalAddresses } from '../src/discovery-files.js';
import { KeyDiscoveryAgent } from '../src/key-discovery-agent.js';
import type { PlatformDiscovery } from '../src/discovery-info.js';

const FIXTURE_HOME = fileURLToPath(new URL('../../../fixtures/keydiscovery/volttron-home/', import.meta.url));
const KEY_A = 'j9fnuE8dSGORN6VChNRDKa7sDvnIrXhAMYYu_HG-j1c';
const KEY_B = 'rD4u3-wUXavX81vdzKk51_1aDNgEsgavQpOQylGeqk8';
const KEY_R = '7DxFYQLUFWD0yOvTshHff0PL92i1PXpF2EYIGeDIbiE';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'vip-keydiscovery-files-'));
  await cp(FIXTURE_HOME, home, { recursive: true });
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const fixture = (name: string) => readFile(join(FIXTURE_HOME, name), 'utf8');

describe('external_platform_discovery.json (VOLTTRON PersistentDict format)', () => {
  it('reads every entry, unknown keys (the RMQ fields) included', async () => {
    const file = new PlatformDiscoveryFile(keyDiscoveryPaths(home).platformDiscovery);
    const entries = await file.entries();
    expect(entries.map((e) => [e.key, e.ok])).toEqual([
      ['refB', true],
      ['refR', true],
    ]);
    const refR = entries[1]!;
    expect(refR.ok && refR.entry).toMatchObject({
      'instance-name': 'refR',
      'vip-address': 'tcp://10.0.0.3:22916',
      serverkey: KEY_R,
      'rmq-address': 'amqps://10.0.0.3:5671/volttron',
    });
  });

  it('writes back byte for byte what VOLTTRON wrote, and touches only the entry it updates', async () => {
    const path = keyDiscoveryPaths(home).platformDiscovery;
    const original = await fixture('external_platform_discovery.json');
    expect(formatCompactJson(JSON.parse(original))).toBe(original);
    const file = new PlatformDiscoveryFile(path);
    const raw = await file.raw();
    await file.set('refB', raw.refB as never); // the same entry again
    expect(await readFile(path, 'utf8')).toBe(original);

    const refC = {
      serverkey: KEY_A,
      'vip-address': 'tcp://10.0.0.4:22916',
      'instance-name': 'refC',
      'web-address': 'http://10.0.0.4:8080',
    };
    await file.set('refC', refC);
    const after = await readFile(path, 'utf8');
    expect(after.startsWith(original.slice(0, -1))).toBe(true); // refB and refR unchanged, in place
    expect(after).toBe(`${original.slice(0, -1)},"refC":${JSON.stringify(refC)}}`);
    expect(await file.remove('refC')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(original);
  });

  it('escapes non-ASCII as Python does (ensure_ascii)', () => {
    expect(formatCompactJson({ café: 'x\u007f\u{1f600}' })).toBe('{"caf\\u00e9":"x\\u007f\\ud83d\\ude00"}');
    expect(JSON.parse(formatCompactJson({ café: 'x\u{1f600}' }))).toEqual({ café: 'x\u{1f600}' });
  });

  it('an empty file is an empty store (as PersistentDict reads it); broken JSON is a ConfigError naming the file', async () => {
    const path = keyDiscoveryPaths(home).platformDiscovery;
    await writeFile(path, '');
    expect(await new PlatformDiscoveryFile(path).entries()).toEqual([]);
    await writeFile(path, '{"refB": {');
    await expect(new PlatformDiscoveryFile(path).entries()).rejects.toThrow(
      new RegExp(`platform discovery file ${path} is not valid JSON`),
    );
    await writeFile(path, '["not", "an", "object"]');
    await expect(new PlatformDiscoveryFile(path).entries()).rejects.toBeInstanceOf(ConfigError);
  });

  it('a bad entry is reported on its own; the others stay usable', async () => {
    const path = keyDiscoveryPaths(home).platformDiscovery;
    await writeFile(path, JSON.stringify({ good: { serverkey: KEY_B, 'vip-address': 'tcp://10.0.0.2:22916' }, bad: { 'vip-address': 5 } }));
    const [good, bad] = await new PlatformDiscoveryFile(path).entries();
    expect(good).toMatchObject({ key: 'good', ok: true });
    expect(bad).toMatchObject({ key: 'bad', ok: false });
    expect(bad!.ok ? '' : bad!.problem.message).toMatch(/entry "bad": vip-address: .*; serverkey: /);
  });
});

describe('external_address.json', () => {
  it('reads the list as VOLTTRON documents it; an empty file is an empty list; a missing one is undefined', async () => {
    const path = keyDiscoveryPaths(home).externalAddresses;
    expect(await readExternalAddresses(path)).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080']);
    await writeFile(path, '');
    expect(await readExternalAddresses(path)).toEqual([]);
    await writeFile(path, '{"http://10.0.0.2:8080": 1}');
    await expect(readExternalAddresses(path)).rejects.toThrow(/external address file .* is invalid/);
    expect(await readExternalAddresses(join(home, 'absent.json'))).toBeUndefined();
  });
});

describe('known_hosts written by VOLTTRON (indent 4) and updated through @vip/auth', () => {
  it('keeps every entry, its abstract-ipc "@" one included', async () => {
    const hosts = KnownHosts.forHome(home);
    expect(await hosts.get('tcp://10.0.0.2:22916')).toBe(KEY_B);
    await hosts.add('tcp://10.0.0.3:22916', KEY_R);
    expect(JSON.parse(await readFile(join(home, 'known_hosts'), 'utf8'))).toEqual({
      ...JSON.parse(await fixture('known_hosts')),
      '10.0.0.3:22916': KEY_R,
    });
  });
});

describe('normal mode on a home VOLTTRON set up', () => {
  it('hands over every recorded platform as recorded (no web address to ask), keys checked against known_hosts', async () => {
    const linked: PlatformDiscovery[] = [];
    const agent = new KeyDiscoveryAgent({
      vipHome: home,
      instanceName: 'refA',
      mode: 'normal',
      routing: { webAddresses: () => undefined, setupModeConnection: () => undefined, normalModeConnection: (p) => void linked.push(p) },
    });
    const report = await agent.run();
    expect(report.results.map((r) => [r.target, r.outcome, r.outcome === 'discovered' && r.source])).toEqual([
      ['refB', 'discovered', 'file'],
      ['refR', 'discovered', 'file'],
    ]);
    expect(linked).toEqual([
      { instanceName: 'refB', vipAddress: 'tcp://10.0.0.2:22916', serverKey: KEY_B },
      { instanceName: 'refR', vipAddress: 'tcp://10.0.0.3:22916', serverKey: KEY_R },
    ]);
    // refR was not in known_hosts: recorded now; the discovery file is not rewritten
    expect(await KnownHosts.forHome(home).get('tcp://10.0.0.3:22916')).toBe(KEY_R);
    expect(await readFile(keyDiscoveryPaths(home).platformDiscovery, 'utf8')).toBe(await fixture('external_platform_discovery.json'));
  });
});
