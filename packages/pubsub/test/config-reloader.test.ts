import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@vip/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigReloader } from '../src/config-reloader.js';
import type { CapabilityMapInput } from '@vip/protocol';
import type { ProtectedTopics } from '../src/protected-topics.js';

/** Poll a condition until it holds or the deadline passes (no fixed sleeps). */
async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ConfigReloader', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('loads protected topics at start, reloads on change and keeps the old rules on a broken file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vip-pubsub-'));
    dirs.push(dir);
    const path = join(dir, 'protected_topics.json');
    writeFileSync(path, JSON.stringify({ 'write-protect': [{ topic: 'a', capabilities: ['ca'] }] }));
    let topics: ProtectedTopics | undefined;
    let caps: CapabilityMapInput = {};
    let capsVersion = 0;
    const capsPath = join(dir, 'auth.json');
    writeFileSync(capsPath, '1');
    const reloader = new ConfigReloader(
      {
        protectedTopicsPath: path,
        capabilities: { path: capsPath, load: async () => ({ u: [`v${++capsVersion}`] }) },
        pollIntervalMs: 100,
      },
      { setProtectedTopics: (t) => void (topics = t), setCapabilities: (c) => void (caps = c) },
      silentLogger,
    );
    reloader.start();
    try {
      expect(topics?.required('a/x')).toEqual(['ca']); // synchronous first load
      await until(() => caps.u !== undefined);
      // replace atomically, as editors do
      writeFileSync(path + '.tmp', JSON.stringify({ 'write-protect': [{ topic: '/b.*/', capabilities: 'cb' }] }));
      renameSync(path + '.tmp', path);
      await until(() => topics?.required('bzz')?.[0] === 'cb');
      expect(topics?.required('a')).toBeUndefined();
      writeFileSync(path, '{ not json');
      await until(() => reloader.reloadsFailed === 1);
      expect(topics?.required('bzz')).toEqual(['cb']);
      writeFileSync(capsPath, '22');
      await until(() => (caps.u as string[])[0] === 'v2');
    } finally {
      reloader.close();
    }
  });
});
