import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultLocalAddress, prepareVipHome, resolveVipHome } from '../src/vip-home.js';

describe('resolveVipHome (the platform, vipctl and agents)', () => {
  // moved from apps/platform/test/cli-options.test.ts with the resolver
  it('VIP_HOME wins over VOLTTRON_HOME, which wins over ~/.vip; ~ is expanded, trailing / dropped', () => {
    expect(resolveVipHome({ VIP_HOME: '/a/', VOLTTRON_HOME: '/b' })).toBe('/a');
    expect(resolveVipHome({ VOLTTRON_HOME: '~/volttron' })).toBe(`${homedir()}/volttron`);
    expect(resolveVipHome({})).toBe(`${homedir()}/.vip`);
  });

  it('an empty variable counts as unset; a relative home is made absolute', () => {
    expect(resolveVipHome({ VIP_HOME: '', VOLTTRON_HOME: '/b' })).toBe('/b');
    expect(resolveVipHome({ VIP_HOME: '', VOLTTRON_HOME: '' }, '/home/x')).toBe('/home/x/.vip');
    expect(resolveVipHome({ VIP_HOME: 'rel/home' })).toBe(join(process.cwd(), 'rel/home'));
    expect(resolveVipHome({ VIP_HOME: '/' })).toBe('/');
  });

  it('the local address is the abstract ipc socket under the home', () => {
    expect(defaultLocalAddress('/srv/vip')).toBe('ipc://@/srv/vip/run/vip.socket');
  });
});

describe('prepareVipHome', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('creates the home (0700) and run/, and refuses a file in its place with ConfigError naming it', async () => {
    const base = await mkdtemp(join(tmpdir(), 'vip-home-'));
    dirs.push(base);
    const paths = await prepareVipHome(join(base, 'h'));
    expect(paths.authFile).toBe(join(base, 'h', 'auth.json'));
    expect((await stat(join(base, 'h'))).mode & 0o777).toBe(0o700);
    expect((await stat(paths.run)).isDirectory()).toBe(true);
    await writeFile(join(base, 'f'), '');
    await expect(prepareVipHome(join(base, 'f'))).rejects.toMatchObject({
      code: 'VIP_CONFIG',
      message: expect.stringContaining(join(base, 'f')),
    });
  });
});
