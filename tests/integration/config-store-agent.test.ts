// A TypeScript agent using agent.config on a platform while the built vipctl changes its store:
// the agent hears NEW for every config at start (store and defaults), then UPDATE and DELETE in
// the order vipctl made the changes, with config:// links resolved. And the pushes are accepted
// only from config.store.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, ConfigCallbackAction } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { openRawClient, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const run = promisify(execFile);
const ID = 'ts.cfg';

let platform: PlatformProcess;
let agent: Agent;
const events: [string, ConfigCallbackAction, unknown][] = [];

async function vipctl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [VIPCTL, ...args, '--vip-home', platform.home], { timeout: 30_000 });
  return stdout;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(platform.home, name);
  await writeFile(path, text);
  return path;
}

beforeAll(async () => {
  platform = await startPlatform();
  // in the store before the agent runs: the push finds nobody (dropped), the agent gets it at start
  await vipctl('config', 'store', ID, 'points.csv', await file('points.csv', 'name,unit\nsat,C\n'), '--csv');
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { identity: ID });
  agent = await createZmqAgent({
    identity: ID,
    address: platform.tcpAddress,
    serverKey: platform.serverkey ?? '',
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: platform.home,
  });
  agent.config.setDefault('config', { setpoint: 20 });
  agent.config.subscribe((name, action, contents) => void events.push([name, action, contents]));
  await agent.start();
});
afterAll(async () => {
  await agent?.close();
  await platform?.close();
});

describe('agent.config while vipctl config runs', () => {
  it('NEW for each config at start, then UPDATE/NEW/DELETE in the order vipctl changed them', async () => {
    expect(events).toEqual([
      ['config', 'NEW', { setpoint: 20 }],
      ['points.csv', 'NEW', [{ name: 'sat', unit: 'C' }]],
    ]);
    events.length = 0;
    await vipctl('config', 'store', ID, 'config', await file('config.json', '{"setpoint": 22, "points": "config://points.csv"}'));
    await vipctl('config', 'store', ID, 'extra', await file('extra.txt', 'free text'), '--raw');
    await vipctl('config', 'store', ID, 'points.csv', await file('points2.csv', 'name,unit\nrat,F\n'), '--type', 'csv');
    await vipctl('config', 'delete', ID, 'extra');
    await vipctl('config', 'delete', ID, 'config');
    // vipctl returns after the store answered, and the store answers after the agent's callbacks ran
    expect(events).toEqual([
      ['config', 'UPDATE', { setpoint: 22, points: [{ name: 'sat', unit: 'C' }] }], // a default existed: UPDATE, as VOLTTRON
      ['extra', 'NEW', 'free text'],
      ['config', 'UPDATE', { setpoint: 22, points: [{ name: 'rat', unit: 'F' }] }], // it links to points.csv; `config` always first
      ['points.csv', 'UPDATE', [{ name: 'rat', unit: 'F' }]],
      ['extra', 'DELETE', null],
      ['config', 'UPDATE', { setpoint: 20 }], // back to the default
    ]);
  });

  it('get, list, set and delete from the agent; vipctl get and list see the same store', async () => {
    await agent.config.set('mode', { auto: true }, { triggerCallback: true });
    await waitFor(() => events.some(([n, a]) => n === 'mode' && a === 'NEW'));
    expect(await agent.config.get('mode')).toEqual({ auto: true });
    expect(await agent.config.list()).toEqual(['config', 'mode', 'points.csv']);
    expect(JSON.parse(await vipctl('config', 'get', ID, 'mode', '--json'))).toEqual({ auto: true });
    expect((await vipctl('config', 'get', ID, 'mode', '--raw')).trim()).toBe('{"auto": true}');
    expect((await vipctl('config', 'list')).trim().split('\n')).toContain(ID);
    expect(JSON.parse(await vipctl('config', 'list', ID, '--json'))).toEqual(['mode', 'points.csv']);
    await agent.config.delete('mode');
    expect(await agent.config.list()).toEqual(['config', 'points.csv']);
  });

  it('vipctl config edit stores what the editor wrote', async () => {
    const editor = await file('editor.sh', '#!/bin/sh\nprintf \'{"setpoint": 25}\' > "$1"\n');
    await vipctl('config', 'edit', ID, 'config', '--new', '--editor', `sh ${editor}`);
    expect(await agent.config.get('config')).toEqual({ setpoint: 25 });
    expect(events.at(-1)).toEqual(['config', 'UPDATE', { setpoint: 25 }]);
  });

  it('vipctl config delete --all: DELETE for stored configs, UPDATE back to the defaults; a missing config is an error', async () => {
    events.length = 0;
    await vipctl('config', 'delete', ID, '--all');
    expect(events).toEqual([
      ['config', 'UPDATE', { setpoint: 20 }],
      ['points.csv', 'DELETE', null],
    ]);
    expect(JSON.parse(await vipctl('config', 'list', ID, '--json'))).toEqual([]);
    const missing = await vipctl('config', 'get', ID, 'config').then(
      () => 'found',
      (err: { code?: number; stderr?: string }) => `${err.code}: ${err.stderr}`,
    );
    expect(missing).toMatch(/^1: .*No configuration file "config" for VIP IDENTIY ts\.cfg/s);
  });

  it('a config.update from any peer but config.store is refused and calls nothing back', async () => {
    const before = events.length;
    const mallory = await openRawClient(platform, 'mallory');
    try {
      await mallory.sendVip(
        ID,
        'RPC',
        [
          '{"jsonrpc": "2.0", "method": "config.update", "params": {"*args": ["UPDATE", "config"], "**kwargs": {"contents": {"setpoint": 99}, "trigger_callback": true}}, "id": "m.1"}',
        ],
        { id: 'm.1' },
      );
      const reply = await mallory.receiveReply('m.1', 'RPC');
      expect(JSON.parse(reply[5]?.toString() ?? '{}').error.data['exception.py'].exc_args[0]).toBe(-32001);
    } finally {
      await mallory.close();
    }
    expect(events.length).toBe(before);
    expect(await agent.config.get('config')).toEqual({ setpoint: 20 });
  });
});
