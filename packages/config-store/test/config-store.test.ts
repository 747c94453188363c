import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigContentError,
  ConfigNotFoundError,
  ConfigStore,
  csvRows,
  hasRecursion,
  processRawConfig,
  resolveLinks,
  StoreFileError,
  StoreIdentityError,
  stripComments,
  stripConfigName,
} from '../src/index.js';

const CAPTURED = new URL('../../../fixtures/volttron-9.0.4/transcripts/config_store/cap.cfg.store', import.meta.url);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vip-config-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config types', () => {
  it('raw is the text; json allows comments and must be an object or list; csv is DictReader rows', () => {
    expect(processRawConfig('free text', 'raw')).toBe('free text');
    expect(processRawConfig('{"a": 1, # note\n "b": "x#y" // more\n /* block */}', 'json')).toEqual({ a: 1, b: 'x#y' });
    expect(() => processRawConfig('5', 'json')).toThrow(ConfigContentError);
    expect(() => processRawConfig('{not json', 'json')).toThrow(expect.objectContaining({ excType: 'json.decoder.JSONDecodeError' }));
    expect(() => processRawConfig('x', 'yaml')).toThrow('Unsupported configuration type.');
    expect(processRawConfig('a,b\n1,2\n', 'csv')).toEqual([{ a: '1', b: '2' }]);
  });

  it('csv: quotes, CRLF, empty rows skipped, short rows null, long rows under null', () => {
    expect(csvRows('name,note\r\n"x, y","say ""hi"""\r\n\r\nz\r\n1,2,3\r\n')).toEqual([
      { name: 'x, y', note: 'say "hi"' },
      { name: 'z', note: null },
      { name: '1', note: '2', null: ['3'] },
    ]);
    expect(csvRows('')).toEqual([]);
  });

  it('comments inside strings stay', () => {
    expect(stripComments('{"u": "http://x/#y"}')).toBe('{"u": "http://x/#y"}');
  });
});

describe('config:// links', () => {
  it('names are trimmed of whitespace and slashes', () => {
    expect(stripConfigName(' /points/ahu1/ \n')).toBe('points/ahu1');
  });

  it('a link back to itself, directly or through others, is a cycle', () => {
    const existing = new Map<string, unknown>([
      ['b', { next: 'config://c' }],
      ['c', { back: 'config://A' }],
    ]);
    expect(hasRecursion('a', { x: 'config://b' }, (n) => existing.get(n))).toBe(true);
    expect(hasRecursion('a', { x: 'config://missing' }, (n) => existing.get(n))).toBe(false);
    expect(hasRecursion('a', ['config://a'], () => undefined)).toBe(true);
  });

  it('resolveLinks replaces each link by the linked contents, nested', () => {
    const store = new Map<string, unknown>([
      ['points', [{ p: 1 }]],
      ['dev', { points: 'config://points' }],
    ]);
    expect(resolveLinks({ device: 'config://dev', none: 'config://nope' }, (n) => store.get(n))).toEqual({
      device: { points: [{ p: 1 }] },
      none: null,
    });
  });
});

describe('ConfigStore over a directory', () => {
  it('reads the store file VOLTTRON 9.0.4 wrote, unchanged, and serves it', async () => {
    await copyFile(CAPTURED, join(dir, 'cap.cfg.store'));
    const before = await readFile(join(dir, 'cap.cfg.store'), 'utf8');
    const store = await ConfigStore.load({ directory: dir });
    expect(store.listStores()).toEqual(['cap.cfg']);
    expect(store.listConfigs('cap.cfg')).toEqual(['config', 'notes.txt']);
    expect(store.get('cap.cfg', 'config')).toBe('{"setpoint": 22, "units": "C"}');
    expect(store.get('cap.cfg', 'CONFIG', false)).toEqual({ setpoint: 22, units: 'C' });
    expect(store.getMetadata('cap.cfg', 'notes.txt')).toEqual({
      type: 'raw',
      modified: '2026-12-07T14:23:30.944541+00:00',
      data: 'free text',
    });
    expect(store.configsOf('cap.cfg')).toEqual({ config: { setpoint: 22, units: 'C' }, 'notes.txt': 'free text' });
    expect(await readFile(join(dir, 'cap.cfg.store'), 'utf8')).toBe(before);
  });

  it('writes what VOLTTRON writes: same keys, compact JSON, non-ASCII escaped', async () => {
    const store = await ConfigStore.load({ directory: dir, now: () => new Date('2026-12-07T14:23:30.434Z') });
    expect((await store.set('a', 'config', '{"setpoint": 22, "units": "C"}', 'json')).action).toBe('NEW');
    await store.set('a', 'notes.txt', 'caf\u00e9', 'raw');
    expect(await readFile(join(dir, 'a.store'), 'utf8')).toBe(
      '{"config":{"type":"json","modified":"2026-12-07T14:23:30.434000+00:00","data":"{\\"setpoint\\": 22, \\"units\\": \\"C\\"}"},' +
        '"notes.txt":{"type":"raw","modified":"2026-12-07T14:23:30.434000+00:00","data":"caf\\u00e9"}}',
    );
    expect((await store.set('a', 'Config', '[]', 'json')).action).toBe('UPDATE');
    expect(store.listConfigs('a')).toEqual(['Config', 'notes.txt']);
    const reloaded = await ConfigStore.load({ directory: dir });
    expect(reloaded.get('a', 'config', false)).toEqual([]);
  });

  it('missing configs are KeyErrors with VOLTTRON text; deleting the last config removes the file', async () => {
    const store = await ConfigStore.load({ directory: dir });
    expect(() => store.get('x', 'nope')).toThrow(ConfigNotFoundError);
    expect(() => store.get('x', 'nope')).toThrow(`'No configuration file "nope" for VIP IDENTIY x'`);
    await store.set('x', 'one', '1', 'raw');
    await expect(store.delete('x', 'two')).rejects.toThrow(ConfigNotFoundError);
    expect((await store.delete('x', 'ONE')).action).toBe('DELETE');
    expect(await readdir(dir)).toEqual([]);
    expect(store.listStores()).toEqual([]);
    expect(await store.deleteStore('x')).toBeUndefined();
  });

  it('refuses an identity that would name a file outside the directory', async () => {
    const store = await ConfigStore.load({ directory: dir });
    for (const identity of ['../escape', 'a/b', '..', '.', '', 'a\\b', 'x\0y']) {
      await expect(store.set(identity, 'config', '{}', 'json'), identity).rejects.toThrow(StoreIdentityError);
    }
    expect(await readdir(dir)).toEqual([]);
    await expect(store.deleteStore('../x')).resolves.toBeUndefined(); // nothing by that name: nothing touched
  });

  it('refuses a recursive link', async () => {
    const store = await ConfigStore.load({ directory: dir });
    await store.set('x', 'b', '{"a": "config://a"}', 'json');
    await expect(store.set('x', 'a', '{"b": "config://b"}', 'json')).rejects.toThrow('Recursive configuration references');
  });

  it('a truncated store file is refused at load with its path, and left as it is', async () => {
    const path = join(dir, 'cap.cfg.store');
    const text = await readFile(CAPTURED, 'utf8');
    await writeFile(path, text.slice(0, 60));
    const failure = await ConfigStore.load({ directory: dir }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreFileError);
    expect((failure as StoreFileError).message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe(text.slice(0, 60));
  });

  it('a write that fails keeps the previous good state, on disk and served', async () => {
    let fail = false;
    const store = await ConfigStore.load({
      directory: dir,
      writeHooks: {
        beforeRename: () => {
          if (fail) throw new Error('disk full');
        },
      },
    });
    await store.set('x', 'config', '{"v": 1}', 'json');
    await store.set('x', 'other', 'o', 'raw');
    const good = await readFile(join(dir, 'x.store'), 'utf8');
    fail = true;
    await expect(store.set('x', 'config', '{"v": 2}', 'json')).rejects.toThrow(StoreFileError);
    await expect(store.delete('x', 'config')).rejects.toThrow('previous contents are kept');
    expect(await readFile(join(dir, 'x.store'), 'utf8')).toBe(good);
    expect(store.get('x', 'config', false)).toEqual({ v: 1 });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    fail = false;
    expect((await store.set('x', 'config', '{"v": 3}', 'json')).action).toBe('UPDATE');
  });

  it('changes of one store run in order, each with its follow-up', async () => {
    const store = await ConfigStore.load({ directory: dir });
    const seen: string[] = [];
    const slow = (tag: string) => async () => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(tag);
    };
    await Promise.all([
      store.set('x', 'a', '1', 'raw', slow('set a')),
      store.set('x', 'a', '2', 'raw', slow('update a')),
      store.delete('x', 'a', slow('delete a')),
    ]);
    expect(seen).toEqual(['set a', 'update a', 'delete a']);
  });

  it('bounds configs in bytes', async () => {
    const store = await ConfigStore.load({ directory: dir, maxConfigBytes: 10, maxTotalBytes: 15 });
    await expect(store.set('x', 'big', 'x'.repeat(11), 'raw')).rejects.toThrow('over the store');
    await store.set('x', 'a', 'x'.repeat(10), 'raw');
    await expect(store.set('x', 'b', 'x'.repeat(10), 'raw')).rejects.toThrow('limit of 15 bytes');
    await store.set('x', 'a', 'y'.repeat(10), 'raw');
    expect(store.totalBytes).toBe(10);
  });
});
