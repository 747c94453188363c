import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRmqAgent } from '@vip/agent/rmq';
import { AMQP_URL, FAST_RECONNECT, rabbitmqctl } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { startPlatform, type PlatformProcess } from '@vip/testing';
import { describeAgentSuite, type AgentSuitePlatform } from './agent.suite.js';

/**
 * The agent suite over RabbitMQ against a real platform PROCESS (`vip-platform --message-bus rmq`)
 * in this file's own virtual host (freshVhost: also the lease that keeps the broker-restart test
 * from cutting us). Agents use @vip/agent/rmq; their VIP user is `<instance>.<userId>` (createRmqAgent
 * checks capabilities without the prefix). A restart stops the process, cuts the agents' broker
 * connections in our vhost (what a platform restart does to them on ZMQ) and starts it again.
 */
describeAgentSuite({
  name: 'rmq (platform process, RabbitMQ)',
  async startPlatform(): Promise<AgentSuitePlatform> {
    const vh = await freshVhost('agent-suite');
    const home = await mkdtemp(join(tmpdir(), 'vip-agent-suite-rmq-'));
    const instanceName = 'suite';
    // shared login (opt-in): the suite's agents log in as guest and claim users in the header (options.userId)
    const launch = () =>
      startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName, args: ['--vip-home', home] });
    let platform: PlatformProcess;
    try {
      platform = await launch();
    } catch (err) {
      await vh.dispose();
      throw err;
    }
    const link = { url: AMQP_URL, vhost: vh.vhost, instanceName, reconnect: FAST_RECONNECT };
    return {
      async connect(identity, options = {}) {
        const agent = createRmqAgent({
          identity,
          rmq: { ...link, ...(options.userId ? { user: `${instanceName}.${options.userId}` } : {}) },
          ...options.agent,
        });
        await agent.start();
        return agent;
      },
      async restart() {
        await platform.close();
        await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'platform restart');
        platform = await launch();
      },
      async close() {
        try {
          await platform.close();
        } finally {
          await rm(home, { recursive: true, force: true });
          await vh.dispose();
        }
      },
    };
  },
});
