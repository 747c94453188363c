import { onTestFinished } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { AMQP_URL, FAST_RECONNECT, MANAGEMENT, type TestVhost } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { startPlatform, type PlatformProcess } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { runVipctl } from './helpers/vipctl.js';

/**
 * A platform process on RabbitMQ (fresh vhost, management on) whose agents get their own broker
 * users through vipctl. The platform runs in its default mode: its own broker user
 * `<instance>.router`, proofs required from agents. Broker users are global: give each test file
 * an instance name of its own (with the pid) so that parallel runs never share `<instance>.router`.
 */
export interface AgentUserPlatform {
  readonly vh: TestVhost;
  readonly platform: PlatformProcess;
  /** An agent on the shared URL user (guest), counting subscribers through the management API; anonymous to receivers that require proofs. */
  readonly watcher: Agent;
  vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }>;
  /** An agent of `@vip/agent/rmq` on the broker user `vipctl auth add --identity` made for it, started (after `prepare`); closed at test end. */
  agentOnOwnUser(identity: string, prepare?: (agent: Agent) => void): Promise<Agent>;
  /** Stop everything, delete `brokerUsers` (global: their names carry the pid), the platform's user and the vhost. */
  dispose(brokerUsers: readonly string[]): Promise<void>;
}

export async function startAgentUserPlatform(tag: string, instanceName: string, args: readonly string[] = []): Promise<AgentUserPlatform> {
  const vh = await freshVhost(tag);
  const platform = await startPlatform({
    bus: 'rmq',
    rmq: { vhost: vh.vhost, url: AMQP_URL, managementUrl: MANAGEMENT.baseUrl },
    instanceName,
    args,
  }).catch(async (err: unknown) => {
    await vh.dispose(); // no platform: nobody else would remove the vhost and its lease
    throw err;
  });
  const watcher = createRmqAgent({
    identity: `${instanceName}.watcher`,
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName, reconnect: FAST_RECONNECT },
  });
  await watcher.start();
  return {
    vh,
    platform,
    watcher,
    async vipctl(...argv) {
      return runVipctl([...argv, '--vip-home', platform.home]);
    },
    async agentOnOwnUser(identity, prepare) {
      const file = await readAgentRmqFile(platform.home, identity);
      if (!file) throw new Error(`no rmq.json for ${identity}`);
      // its own user has no management login: publish resolves 1, as VOLTTRON's does
      const agent = createRmqAgent({
        identity,
        rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName, reconnect: FAST_RECONNECT },
        management: false,
      });
      onTestFinished(() => agent.close());
      prepare?.(agent);
      await agent.start();
      return agent;
    },
    async dispose(brokerUsers) {
      await watcher.close();
      await platform.close();
      for (const u of [...brokerUsers, `${instanceName}.router`]) await management.deleteUser(u);
      await vh.dispose();
    },
  };
}
