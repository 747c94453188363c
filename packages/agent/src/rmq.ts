// Public API of @vip/agent/rmq: RabbitMQ wiring for the transport-neutral Agent (needs @vip/rmq, amqplib).
import { RmqConnection, type RmqConnectionOptions } from '@vip/rmq';
import { Agent, type AgentOptions } from './agent.js';

export interface RmqAgentOptions extends Omit<AgentOptions, 'connection' | 'target'> {
  /** Broker link: `url`, `vhost`, `instanceName`, TLS, reconnect policy (see @vip/rmq). */
  readonly rmq: Omit<RmqConnectionOptions, 'identity' | 'logger'>;
}

/**
 * Build an Agent over a RabbitMQ connection (not started). Capability checks use the VIP user
 * without its `<instance>.` prefix, as VOLTTRON does on RMQ (PROTOCOL.md 4.5).
 */
export function createRmqAgent(options: RmqAgentOptions): Agent {
  const { rmq, ...agentOptions } = options;
  const connection = (): RmqConnection => new RmqConnection({ ...rmq, identity: options.identity, ...(options.logger ? { logger: options.logger } : {}) });
  const broker = new URL(rmq.url);
  return new Agent({
    ...agentOptions,
    connection,
    target: `${broker.protocol}//${broker.host} (vhost ${rmq.vhost ?? 'volttron'}, instance ${rmq.instanceName})`,
    rpc: { userOf: (user) => user.slice(user.indexOf('.') + 1), ...options.rpc },
  });
}

/** Build and start an agent over RabbitMQ. */
export async function connectRmqAgent(options: RmqAgentOptions): Promise<Agent> {
  const agent = createRmqAgent(options);
  await agent.start();
  return agent;
}
