// The config.store service on the RabbitMQ bus: a TypeScript agent over RabbitMQ gets its store at
// start, changes it, and hears the change back, as on ZeroMQ (config-store-agent.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, ConfigCallbackAction } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { AMQP_URL, FAST_RECONNECT, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { startAgentUserPlatform } from './rmq-agent-user-platform.js';

const INSTANCE = 'cfgrmq';
let vh: TestVhost;
let platform: PlatformProcess;
let agent: Agent;
const events: [string, ConfigCallbackAction, unknown][] = [];

beforeAll(async () => {
  vh = await freshVhost('config-store-rmq');
  platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName: INSTANCE });
  agent = createRmqAgent({
    identity: 'rmq.cfg',
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT },
  });
  agent.config.setDefault('config', { mode: 'default' });
  agent.config.subscribe((name, action, contents) => void events.push([name, action, contents]));
  await agent.start();
});
afterAll(async () => {
  await agent?.close();
  await platform?.close();
  await vh?.dispose();
});

describe('config.store over RabbitMQ', () => {
  it('initial NEW at start, then the agent changes its own store and hears it', async () => {
    expect(events).toEqual([['config', 'NEW', { mode: 'default' }]]);
    await agent.config.set('config', { mode: 'stored' }, { triggerCallback: true });
    await waitFor(() => events.length === 2);
    expect(events[1]).toEqual(['config', 'UPDATE', { mode: 'stored' }]);
    expect(await agent.rpc.call('config.store', 'manage_list_configs', 'rmq.cfg')).toEqual(['config']);
    await agent.config.delete('config', { triggerCallback: true });
    await waitFor(() => events.length === 3);
    expect(events[2]).toEqual(['config', 'UPDATE', { mode: 'default' }]);
  });
});

describe('config.store over RabbitMQ with per-agent broker users (the default)', () => {
  it("an agent on its own broker user changes its own store and hears it; another agent's store is refused", async () => {
    const instance = `cfgu${process.pid}`;
    const p = await startAgentUserPlatform('config-store-users', instance);
    try {
      for (const id of ['own.cfg', 'other.cfg']) expect((await p.vipctl('auth', 'add', '--identity', id)).code).toBe(0);
      const heard: [string, ConfigCallbackAction, unknown][] = [];
      const own = await p.agentOnOwnUser('own.cfg', (a) => a.config.subscribe((n, act, c) => void heard.push([n, act, c])));
      await own.config.set('config', { on: true }, { triggerCallback: true });
      await waitFor(() => heard.length === 1);
      expect(heard).toEqual([['config', 'NEW', { on: true }]]);
      const other = await p.agentOnOwnUser('other.cfg');
      await expect(other.rpc.call('config.store', 'manage_store', 'own.cfg', 'config', '{}', 'json')).rejects.toMatchObject({
        code: 'VIP_UNAUTHORIZED',
      });
      expect(await own.config.get()).toEqual({ on: true });
    } finally {
      await p.dispose([`${instance}.own.cfg`, `${instance}.other.cfg`]);
    }
  });
});
