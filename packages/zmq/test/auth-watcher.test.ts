import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { AuthFile } from '../src/auth/auth-file.js';
import type { AuthRules } from '../src/auth/auth-rules.js';
import { AuthFileWatcher } from '../src/auth/auth-watcher.js';

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
