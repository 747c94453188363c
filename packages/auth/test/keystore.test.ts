import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyError, decodeKey } from '@vip/protocol';
import { KeyStore, toZ85KeyPair } from '../src/keystore.js';
import { KnownHosts, knownHostsKey } from '../src/known-hosts.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'vip-keys-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('KeyStore', () => {
  it('creates the platform keystore 0600 on first use and reuses it', async () => {
    const store = KeyStore.platform(home);
    expect(await store.load()).toBeUndefined();
    const pair = await store.loadOrCreate();
    expect(pair.public).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pair.public.startsWith('-')).toBe(false);
    expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    expect(await KeyStore.platform(home).loadOrCreate()).toEqual(pair);
    expect(JSON.parse(await readFile(join(home, 'keystore'), 'utf8'))).toEqual(pair);
    const z85 = toZ85KeyPair(pair);
    expect(z85.publicKey).toHaveLength(40);
    expect(decodeKey(z85.secretKey).toString('base64url')).toBe(pair.secret);
  });

  it('puts agent keystores under keystores/<identity>/ with a 0700 directory', async () => {
    const store = KeyStore.agent(home, 'listener');
    expect(store.path).toBe(join(home, 'keystores', 'listener', 'keystore.json'));
    await store.loadOrCreate();
    expect((await stat(join(home, 'keystores', 'listener'))).mode & 0o777).toBe(0o700);
    expect(() => KeyStore.agent(home, '../evil')).toThrow(KeyError);
  });

  it('names the path when the keystore is invalid', async () => {
    await writeFile(join(home, 'keystore'), '{"public": "x", "secret": 1}');
    await expect(KeyStore.platform(home).load()).rejects.toThrow(
      new RegExp(`keystore ${join(home, 'keystore')} is invalid: public: must be a 43-character`),
    );
    await expect(KeyStore.platform(home).load()).rejects.toBeInstanceOf(KeyError);
  });

  it('checks permissions without changing them', async () => {
    const store = KeyStore.platform(home);
    await store.loadOrCreate();
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (e: string) => void warnings.push(e), child: () => logger };
    await chmod(store.path, 0o644);
    await new KeyStore(store.path, { logger }).load();
    expect(warnings).toEqual(['keystore.permissions']);
    expect((await stat(store.path)).mode & 0o777).toBe(0o644);
  });
});

describe('KnownHosts', () => {
  it('derives keys as VOLTTRON does, including the abstract ipc "@" quirk', () => {
    expect(knownHostsKey('tcp://127.0.0.1:22916?serverkey=abc#id')).toBe('127.0.0.1:22916');
    expect(knownHostsKey('ipc:///home/v/run/vip.socket')).toBe('/home/v/run/vip.socket');
    expect(knownHostsKey('ipc://@/home/v/run/vip.socket')).toBe('@');
    expect(knownHostsKey('10.0.0.1:22916')).toBe('10.0.0.1:22916');
  });

  it('round-trips add, get and remove with mode 0644', async () => {
    const hosts = KnownHosts.forHome(home);
    const raw = Buffer.alloc(32, 7);
    await hosts.add('tcp://10.0.0.1:22916', raw.toString('hex'));
    await hosts.add('ipc://@/x/run/vip.socket', raw.toString('base64url'));
    expect((await stat(hosts.path)).mode & 0o777).toBe(0o644);
    expect(await hosts.get('tcp://10.0.0.1:22916?serverkey=zz')).toBe(raw.toString('base64url'));
    expect(await new KnownHosts(hosts.path).all()).toEqual({ '10.0.0.1:22916': raw.toString('base64url'), '@': raw.toString('base64url') });
    expect(await hosts.remove('10.0.0.1:22916')).toBe(true);
    expect(await hosts.remove('10.0.0.1:22916')).toBe(false);
    expect(await hosts.get('tcp://10.0.0.1:22916')).toBeUndefined();
    await expect(hosts.add('tcp://h:1', 'not a key')).rejects.toBeInstanceOf(KeyError);
  });

  it('names the path when known_hosts is broken', async () => {
    await writeFile(join(home, 'known_hosts'), '[1, 2]');
    await expect(KnownHosts.forHome(home).all()).rejects.toThrow(join(home, 'known_hosts'));
  });
});
