import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeDirectories } from '../src/make-directories.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('makeDirectories', () => {
  it('creates every missing level with the mode, and is a no-op when the directory exists', async () => {
    const base = await mkdtemp(join(tmpdir(), 'vip-mkdirs-'));
    dirs.push(base);
    const deep = join(base, 'a', 'b', 'c');
    await makeDirectories(deep, 0o700);
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect((await stat(join(base, 'a'))).mode & 0o777).toBe(0o700);
    await makeDirectories(deep, 0o700);
  });

  it("fails with the errno where Node's recursive mkdir would spin forever", async () => {
    await expect(makeDirectories('/proc/1/vip-cannot-exist/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails with ENOTDIR under a file', async () => {
    const base = await mkdtemp(join(tmpdir(), 'vip-mkdirs-'));
    dirs.push(base);
    await writeFile(join(base, 'f'), 'x');
    await expect(makeDirectories(join(base, 'f', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
