import { createRmqAgent } from '../../packages/agent/src/rmq.js';
import { PubSubService } from '../../packages/pubsub/src/index.js';
import { RmqRouterTransport } from '../../packages/rmq/src/index.js';
import { Router } from '../../packages/router/src/index.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, rabbitmqctl } from '../../packages/rmq/test/broker-fixture.js';
import { describeAgentSuite, type AgentSuitePlatform } from './agent.suite.js';

/**
 * The agent suite over RabbitMQ: the same Router and Agent as on ZeroMQ, with RmqRouterTransport
 * and @vip/agent/rmq (RmqConnection), in a private virtual host. The router runs in-process (the platform app has
 * no `--message-bus rmq` yet). A "platform restart" on RMQ is the router going away and the
 * platform's broker connections being cut (close_all_connections in our vhost only).
 */
describeAgentSuite({
  name: 'rmq (in-process router, RabbitMQ)',
  async startPlatform(): Promise<AgentSuitePlatform> {
    const vh = await freshVhost('agent-suite');
    const instanceName = 'suite';
    const link = { url: AMQP_URL, vhost: vh.vhost, instanceName, reconnect: FAST_RECONNECT };
    const startRouter = async (): Promise<Router> => {
      const transport = new RmqRouterTransport({ ...link, peerSweepMs: 1_000 });
      const router = new Router({
        transport, instanceName, extensions: [new PubSubService()],
        query: { 'instance-name': instanceName, 'message-bus': 'rmq' },
      });
      await router.start();
      return router;
    };
    let router = await startRouter();
    return {
      async connect(identity, options = {}) {
        // the VIP user on RMQ is `<instance>.<user>`; @vip/agent/rmq checks capabilities without the prefix
        const agent = createRmqAgent({
          identity,
          rmq: { ...link, ...(options.userId ? { user: `${instanceName}.${options.userId}` } : {}) },
          ...options.agent,
        });
        await agent.start();
        return agent;
      },
      async restart() {
        await router.stop();
        await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'platform restart');
        router = await startRouter();
      },
      async close() {
        await router.stop();
        await vh.dispose();
      },
    };
  },
});
