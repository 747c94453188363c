import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthError, ConfigError } from '@vip/protocol';
import { AuthFile, authFilePaths } from '../src/auth-file.js';
import { PendingAuthStore } from '../src/pending-store.js';

const KEY_A = 'A'.repeat(43);
const KEY_B = 'B'.repeat(43);

let home: string;
let pending: PendingAuthStore;
let file: AuthFile;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'vip-authfile-'));
  const paths = authFilePaths(home);
  pending = new PendingAuthStore({ path: paths.pendingFile, flushDelayMs: 5 });
  file = new AuthFile({ path: paths.authFile, pending });
});
afterEach(async () => {
  await pending.close();
  await rm(home, { recursive: true, force: true });
});

describe('AuthFile', () => {
  it('reads a missing file as empty and writes changes atomically with mode 0600', async () => {
    expect((await file.list()).allow).toEqual([]);
    const added = await file.add({ credentials: KEY_A, user_id: 'a', capabilities: 'c' });
    expect(added).toMatchObject({ user_id: 'a', mechanism: 'CURVE', capabilities: { c: null } });
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    const onDisk: unknown = JSON.parse(await readFile(file.path, 'utf8'));
    expect(onDisk).toMatchObject({
      allow: [{ credentials: KEY_A, user_id: 'a', capabilities: { c: null } }],
      deny: [],
      version: { major: 1, minor: 4 },
    });
  });

  it('refuses duplicates, removes by index or user_id, and keeps unknown keys and comments out of the way', async () => {
    await writeFile(file.path, `# operator notes\n{"allow": [{"credentials": "${KEY_A}", "user_id": "a", "custom": 1}], "extra": true}`);
    await expect(file.add({ credentials: KEY_A })).rejects.toBeInstanceOf(AuthError);
    await expect(file.add({ credentials: KEY_B, user_id: 'a' })).rejects.toBeInstanceOf(AuthError);
    await file.add({ credentials: KEY_B, user_id: 'b' });
    expect(await file.remove({ index: 0 })).toMatchObject({ user_id: 'a', custom: 1 });
    await expect(file.remove({ userId: 'nobody' })).rejects.toThrow(/no allow entry with user_id "nobody"/);
    expect((await file.remove({ userId: 'b' })).user_id).toBe('b');
    expect(JSON.parse(await readFile(file.path, 'utf8'))).toMatchObject({ allow: [], extra: true });
  });

  it('approve over ipc matches the key, not the pid in the address: the next run (new pid) is admitted, every pending run of that key goes', async () => {
    // libzmq's ZAP address over ipc is localhost:<uid>:<gid>:<pid>: each run of the agent has another one
    pending.record({ domain: 'vip', address: 'localhost:1000:1000:4242', mechanism: 'CURVE', credential: KEY_A });
    pending.record({ domain: 'vip', address: 'localhost:1000:1000:4243', mechanism: 'CURVE', credential: KEY_A });
    pending.record({ domain: 'vip', address: 'localhost:1000:1000:4244', mechanism: 'CURVE', credential: KEY_B });
    const waiting = await file.listPending();
    expect(waiting.filter((p) => p.credentials === KEY_A)).toHaveLength(1); // one pending line per key, not per run
    const entry = waiting.find((p) => p.credentials === KEY_A)!;
    expect(entry).toMatchObject({ address: 'localhost:1000:1000:4243', retries: 1 });
    const approved = await file.approve(entry.user_id);
    expect(approved.address).toEqual(['/localhost:1000:1000:\\d+/']);
    const { AuthRules } = await import('../src/auth-rules.js');
    const rules = new AuthRules(await file.list());
    const next = { domain: 'vip', address: 'localhost:1000:1000:5000', mechanism: 'CURVE', credential: KEY_A };
    expect(rules.allow.some((e) => e.matches(next))).toBe(true); // the agent's next run
    expect(rules.allow.some((e) => e.matches({ ...next, address: 'localhost:1001:1000:5000' }))).toBe(false); // another local user
    expect(rules.allow.some((e) => e.matches({ ...next, credential: KEY_B }))).toBe(false);
    expect((await file.listPending()).map((p) => p.credentials)).toEqual([KEY_B]);
  });

  it('approves a pending credential into allow, and denies an allowed one', async () => {
    pending.record({ domain: 'vip', address: '10.1.1.1', mechanism: 'CURVE', credential: KEY_A });
    pending.record({ domain: 'vip', address: '10.1.1.1', mechanism: 'CURVE', credential: KEY_A });
    const [waiting] = await file.listPending();
    expect(waiting).toMatchObject({ credentials: KEY_A, retries: 1 });
    const approved = await file.approve(waiting?.user_id ?? '');
    expect(approved).toMatchObject({ credentials: [KEY_A], address: ['10.1.1.1'], domain: ['vip'], user_id: waiting?.user_id });
    expect(await file.listPending()).toEqual([]);
    const rules = await file.load();
    expect(rules.allow).toHaveLength(1);
    await file.deny(approved.user_id);
    expect(await file.list()).toMatchObject({ allow: [], deny: [{ user_id: approved.user_id }] });
    await file.approve(approved.user_id);
    expect(await file.list()).toMatchObject({ allow: [{ user_id: approved.user_id }], deny: [] });
    await expect(file.approve('unknown')).rejects.toBeInstanceOf(AuthError);
  });

  it('refuses to change a file it cannot read, leaving it as it was', async () => {
    await writeFile(file.path, '{"allow": [');
    await expect(file.add({ credentials: KEY_A })).rejects.toBeInstanceOf(ConfigError);
    await expect(file.load()).rejects.toThrow(file.path);
    expect(await readFile(file.path, 'utf8')).toBe('{"allow": [');
  });

  it('sets groups and roles used for capability resolution', async () => {
    await file.add({ credentials: KEY_A, user_id: 'a', groups: 'g' });
    await file.setGroups({ g: ['r'] });
    await file.setRoles({ r: ['cap'] });
    expect((await file.load()).capabilitiesByUser().get('a')).toEqual({ cap: null });
  });
});

describe('PendingAuthStore', () => {
  it('replaces a corrupt state file and keeps at most maxEntries, most recent first', async () => {
    const path = join(home, 'pending.json');
    await writeFile(path, 'garbage');
    let t = 0;
    const store = new PendingAuthStore({ path, maxEntries: 2, flushDelayMs: 1, now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++t)) });
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      store.record({ domain: 'vip', address, mechanism: 'CURVE', credential: KEY_A });
      await store.flush();
    }
    expect((await store.list()).map((e) => e.address)).toEqual(['10.0.0.3', '10.0.0.2']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await store.close();
    store.record({ domain: 'vip', address: '10.0.0.9', mechanism: 'CURVE', credential: KEY_A }); // ignored after close
    expect(await store.list()).toHaveLength(2);
  });

  it('modifies one entry in place, replaces and removes by indices, and writes nothing when a change declines', async () => {
    await file.add({ credentials: KEY_A, user_id: 'a', identity: 'agent.a' });
    await file.add({ credentials: KEY_B, user_id: 'b' });
    const before = await readFile(file.path, 'utf8');
    expect(
      await file.modify(
        (e) => e.identity === 'agent.a',
        () => undefined,
      ),
    ).toBeUndefined();
    expect(
      await file.modify(
        (e) => e.identity === 'nobody',
        (e) => e,
      ),
    ).toBeUndefined();
    expect(await readFile(file.path, 'utf8')).toBe(before);
    const changed = await file.modify(
      (e) => e.identity === 'agent.a',
      (e) => ({ ...e, rpc_method_authorizations: { m: ['cap'] } }),
    );
    expect(changed).toMatchObject({ index: 0, entry: { user_id: 'a', rpc_method_authorizations: { m: ['cap'] } } });
    expect((await file.list()).allow[0]?.rpc_method_authorizations).toEqual({ m: ['cap'] });
    expect(await file.replace(1, { credentials: KEY_B, user_id: 'b2' })).toMatchObject({ user_id: 'b2' });
    await expect(file.replace(5, { credentials: KEY_B })).rejects.toThrow(/no allow entry at index 5/);
    await expect(file.removeIndices([0, 7])).rejects.toThrow(/index 7/);
    expect((await file.list()).allow).toHaveLength(2);
    expect((await file.removeIndices([0, 1])).map((e) => e.user_id)).toEqual(['a', 'b2']);
    expect((await file.list()).allow).toEqual([]);
  });
});
