import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { AuthFile } from '../src/auth-file.js';
import type { AuthRules } from '../src/auth-rules.js';
import { AuthFileWatcher } from '../src/auth-watcher.js';
import { keepAdmitting } from '../src/admission-guard.js';

const KEY_A = 'A'.repeat(43);
const KEY_B = 'B'.repeat(43);

let home: string;
let watcher: AuthFileWatcher | undefined;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'vip-watch-'));
});
afterEach(async () => {
  await watcher?.close();
  await watcher?.close(); // idempotent
  watcher = undefined;
  await rm(home, { recursive: true, force: true });
});

const users = (rules: AuthRules) => rules.allow.map((e) => e.entry.user_id);

describe('AuthFileWatcher', () => {
  it('picks up changes by the stat poll alone, and tells listeners', async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_A, user_id: 'a' }] }));
    watcher = new AuthFileWatcher({ authFile: new AuthFile({ path }), fsWatch: false, pollMs: 50, debounceMs: 10 });
    const seen: string[][] = [];
    watcher.onChange((rules) => seen.push(users(rules)));
    await watcher.start();
    expect(users(watcher.rules)).toEqual(['a']);
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_B, user_id: 'b' }] }));
    const w = watcher;
    await waitFor(() => users(w.rules).includes('b'), { what: 'poll reload' });
    expect(seen).toEqual([['a'], ['b']]);
    expect(watcher.stats()).toMatchObject({ reloads: 2, failedReloads: 0, lastError: undefined });
  });

  it("a reload asked for right after a write is that write's only reload: the watcher does not reload it again", async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_A, user_id: 'a' }] }));
    const authFile = new AuthFile({ path });
    watcher = new AuthFileWatcher({ authFile });
    await watcher.start();
    await authFile.add({ credentials: KEY_B, user_id: 'b' }); // as the platform adds a service's entry, then reloads
    expect(await watcher.reload()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the fs event's debounce and a poll pass
    expect(watcher.stats().reloads).toBe(2); // start + the one asked for
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_B, user_id: 'b' }] }));
    const w = watcher;
    await waitFor(() => w.stats().reloads === 3, { what: 'a later change still reloads' });
  });

  it('starts with no rules and the error when the file is invalid, then recovers', async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, '{"allow": "nope"}');
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (e: string) => void errors.push(e), child: () => logger };
    watcher = new AuthFileWatcher({ authFile: new AuthFile({ path }), logger, pollMs: 50, debounceMs: 10 });
    await watcher.start();
    expect(watcher.rules.allow).toEqual([]);
    expect(watcher.stats().lastError).toMatch(/auth file .*auth\.json is invalid: allow/);
    expect(errors).toEqual(['auth.reload.failed']);
    await new AuthFile({ path: join(home, 'other.json') }).read(); // unrelated file in the same directory
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_A, user_id: 'a' }] }));
    await waitFor(() => watcher?.stats().lastError === undefined, { what: 'recovery' });
    expect(users(watcher.rules)).toEqual(['a']);
  });
});

describe('AuthFileWatcher with keepAdmitting (issue 10 item 12)', () => {
  const PLATFORM = 'P'.repeat(43);
  const SERVICE = 'S'.repeat(43);
  const platformEntries = [
    { credentials: PLATFORM, user_id: 'platform' },
    { credentials: SERVICE, user_id: 'control', identity: 'control' },
  ];

  it("refuses {}, an empty file and a file without the platform's entries; counts and logs each; a valid change applies after", async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, JSON.stringify({ allow: [...platformEntries, { credentials: KEY_A, user_id: 'a' }] }));
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (e: string) => void errors.push(e), child: () => logger };
    const guard = keepAdmitting(() => [
      { publicKey: PLATFORM, name: "the platform's key" },
      { publicKey: SERVICE, name: "control's key" },
    ]);
    const w = new AuthFileWatcher({ authFile: new AuthFile({ path }), logger, guard, pollMs: 50, debounceMs: 10 });
    watcher = w;
    await w.start();
    expect(users(w.rules)).toEqual(['platform', 'control', 'a']);
    const bad = ['{}', '', JSON.stringify({ allow: [{ credentials: KEY_B, user_id: 'b' }] })];
    for (const [i, text] of bad.entries()) {
      await writeFile(`${path}.tmp`, text); // replaced whole, as editors and tools do
      await rename(`${path}.tmp`, path);
      await waitFor(() => w.stats().refusedReloads === i + 1, { what: `refusal ${i + 1}` });
      expect(users(w.rules)).toEqual(['platform', 'control', 'a']);
      expect(w.stats().lastError).toMatch(/drops the platform's own entries: the platform's key \(user "platform"\) is no longer admitted/);
    }
    expect(errors).toEqual(['auth.reload.refused', 'auth.reload.refused', 'auth.reload.refused']);
    await writeFile(path, JSON.stringify({ allow: [...platformEntries, { credentials: KEY_B, user_id: 'b' }] }));
    await waitFor(() => users(w.rules).includes('b'), { what: 'the valid change' });
    expect(w.stats()).toMatchObject({ refusedReloads: 3, failedReloads: 0, lastError: undefined });
  });

  it('refuses a file that admits a kept key under another user id or identity (an impersonation of the service)', async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, JSON.stringify({ allow: platformEntries }));
    const w = new AuthFileWatcher({
      authFile: new AuthFile({ path }),
      guard: keepAdmitting(() => [{ publicKey: SERVICE, name: "control's key" }]),
      pollMs: 50,
      debounceMs: 10,
    });
    watcher = w;
    await w.start();
    await writeFile(
      path,
      JSON.stringify({ allow: [platformEntries[0], { credentials: SERVICE, user_id: 'control', identity: 'someone.else' }] }),
    );
    await waitFor(() => w.stats().refusedReloads === 1, { what: 'refusal' });
    expect(w.stats().lastError).toMatch(/control's key would be admitted as user "control" identity "someone.else"/);
    expect(w.rules.allow.map((e) => e.entry.identity)).toEqual([null, 'control']);
  });

  it('holds only keys the rules in force admit: the first load and services not admitted yet pass', async () => {
    const path = join(home, 'auth.json');
    await writeFile(path, JSON.stringify({ allow: [{ credentials: KEY_A, user_id: 'a' }] }));
    const w = new AuthFileWatcher({
      authFile: new AuthFile({ path }),
      guard: keepAdmitting(() => [{ publicKey: SERVICE, name: 'svc' }]),
      pollMs: 50,
      debounceMs: 10,
    });
    watcher = w;
    await w.start();
    expect(users(w.rules)).toEqual(['a']);
    await writeFile(path, '{}');
    await waitFor(() => w.stats().reloads === 2, { what: 'reload' });
    expect(w.stats().refusedReloads).toBe(0);
  });
});
