import type { Channel } from 'amqplib';
import { UNDELIVERABLE_EXCHANGE, VOLTTRON_EXCHANGE } from './amqp-mapping.js';
import { RmqSetupError } from './rmq-errors.js';

// The exchanges every connection that may declare them (router, set-up, opted-in agents) asserts;
// here rather than beside ensureVolttronBroker so that the transport does not load broker administration.
/**
 * Declare the VOLTTRON exchanges (docs/protocol.md 7.1) on `channel`: `undeliverable` (fanout,
 * durable) and `volttron` (topic, durable, alternate-exchange `undeliverable`). Idempotent;
 * a mismatching existing exchange or a missing permission becomes an RmqSetupError.
 */
export async function declareVolttronTopology(channel: Channel, vhost: string): Promise<void> {
  try {
    await channel.assertExchange(UNDELIVERABLE_EXCHANGE, 'fanout', { durable: true });
    await channel.assertExchange(VOLTTRON_EXCHANGE, 'topic', { durable: true, alternateExchange: UNDELIVERABLE_EXCHANGE });
  } catch (err) {
    throw declareError(err, vhost);
  }
}

function declareError(err: unknown, vhost: string): RmqSetupError {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.includes('PRECONDITION')) {
    return new RmqSetupError(
      'topology',
      `exchange ${VOLTTRON_EXCHANGE} or ${UNDELIVERABLE_EXCHANGE} in ${vhost} exists with other settings (${msg})`,
      `delete them (rabbitmqctl -p ${vhost} delete_exchange ...) or use a fresh virtual host`,
      { cause: err },
    );
  }
  if (msg.includes('ACCESS_REFUSED') || msg.includes('ACCESS-REFUSED')) {
    return new RmqSetupError(
      'permission',
      `no permission to declare the VOLTTRON exchanges in ${vhost} (${msg})`,
      `grant configure rights: rabbitmqctl set_permissions -p ${vhost} <user> ".*" ".*" ".*"`,
      { cause: err },
    );
  }
  return new RmqSetupError('broker', `declaring the VOLTTRON exchanges in ${vhost} failed: ${msg}`, 'check the broker log', { cause: err });
}
