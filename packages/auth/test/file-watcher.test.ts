import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { FileWatcher } from '../src/file-watcher.js';

let dir: string;
const watchers: FileWatcher[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vip-file-watcher-'));
});
afterEach(async () => {
  for (const w of watchers.splice(0)) {
    w.close();
    w.close(); // idempotent
  }
  await rm(dir, { recursive: true, force: true });
});

function watcher(path: string, options: ConstructorParameters<typeof FileWatcher>[2] = {}): { w: FileWatcher; seen: string[] } {
  const seen: string[] = [];
  const w = new FileWatcher(path, () => seen.push('change'), { pollMs: 50, debounceMs: 10, ...options });
  watchers.push(w);
  return { w, seen };
}

describe('FileWatcher (auth.json, protected_topics.json)', () => {
  for (const fsWatch of [true, false]) {
    it(`reports creation, replacement by rename, an in-place write and removal, each once (fs.watch ${fsWatch ? 'and' : 'off,'} poll)`, async () => {
      const path = join(dir, 'f.json');
      const { w, seen } = watcher(path, { fsWatch });
      w.start();
      const next = async (n: number, what: string) => waitFor(() => w.stats().changes === n, { what });
      await writeFile(path, '1');
      await next(1, 'creation');
      await writeFile(`${path}.tmp`, '22');
      await rename(`${path}.tmp`, path);
      await next(2, 'replacement');
      await writeFile(path, '333');
      await next(3, 'in-place write');
      await unlink(path);
      await next(4, 'removal');
      expect(seen).toHaveLength(4);
      // nothing else happens: a further look at the same file is not a change
      await writeFile(join(dir, 'other.json'), 'x');
      await writeFile(path, 'again');
      await next(5, 'the change after an unrelated file');
      expect(seen).toHaveLength(5);
    });
  }

  it('a missing directory is watched by the poll alone; close() stops reporting', async () => {
    const sub = join(dir, 'later');
    const path = join(sub, 'f.json');
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (e: string) => void warnings.push(e), error() {}, child: () => logger };
    const { w, seen } = watcher(path, { logger, name: 'test' });
    w.start();
    expect(warnings).toEqual(['test.watch.unavailable']);
    expect(w.stats().watchFailures).toBe(1);
    await mkdir(sub);
    await writeFile(path, '1');
    await waitFor(() => seen.length === 1, { what: 'the poll' });
    w.close();
    await writeFile(path, '22');
    const probe = watcher(path);
    probe.w.start();
    await writeFile(path, '333');
    await waitFor(() => probe.seen.length === 1, { what: 'a second watcher sees the next change' });
    expect(seen).toHaveLength(1);
  });

  it('a throwing callback is logged and the watching goes on', async () => {
    const path = join(dir, 'f.json');
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (e: string) => void errors.push(e), child: () => logger };
    let calls = 0;
    const w = new FileWatcher(
      path,
      () => {
        calls += 1;
        throw new Error('boom');
      },
      { pollMs: 50, debounceMs: 10, logger, name: 'test' },
    );
    watchers.push(w);
    w.start();
    await writeFile(path, '1');
    await waitFor(() => calls === 1, { what: 'first change' });
    await writeFile(path, '22');
    await waitFor(() => calls === 2, { what: 'second change' });
    expect(errors).toEqual(['test.watch.listener_failed', 'test.watch.listener_failed']);
  });
});
