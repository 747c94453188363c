import type { Channel } from 'amqplib';
import { connectBroker } from './broker-link.js';
import { UNDELIVERABLE_EXCHANGE, VOLTTRON_EXCHANGE } from './amqp-mapping.js';
import { RabbitMqManagement, type ManagementOptions } from './rabbitmq-management.js';
import { RmqSetupError } from './rmq-errors.js';
import { externalUser, parseRmqLinkOptions, type RmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';
import { LinkSession } from './link-session.js';
import { silentLogger } from '@vip/protocol';

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
    return new RmqSetupError('topology', `exchange ${VOLTTRON_EXCHANGE} or ${UNDELIVERABLE_EXCHANGE} in ${vhost} exists with other settings (${msg})`,
      `delete them (rabbitmqctl -p ${vhost} delete_exchange ...) or use a fresh virtual host`, { cause: err });
  }
  if (msg.includes('ACCESS_REFUSED') || msg.includes('ACCESS-REFUSED')) {
    return new RmqSetupError('permission', `no permission to declare the VOLTTRON exchanges in ${vhost} (${msg})`,
      `grant configure rights: rabbitmqctl set_permissions -p ${vhost} <user> ".*" ".*" ".*"`, { cause: err });
  }
  return new RmqSetupError('broker', `declaring the VOLTTRON exchanges in ${vhost} failed: ${msg}`, 'check the broker log', { cause: err });
}

export interface BrokerSetupOptions extends Omit<RmqLinkOptionsInput, 'instanceName'> {
  readonly instanceName?: string;
  /** When given, the virtual host is created and the connecting user (with EXTERNAL: the certificate's CN) granted full rights on it. */
  readonly management?: ManagementOptions;
}

/**
 * Make a broker ready for a VIP instance, as VOLTTRON's setup does: per-instance virtual host
 * (needs the management API, optional), then the exchanges over AMQP. Idempotent. Nothing is
 * created on the broker before it has answered on AMQP (probeBroker): a wrong port or host leaves
 * no virtual host behind.
 */
export async function ensureVolttronBroker(raw: BrokerSetupOptions): Promise<void> {
  const o = parseRmqLinkOptions({ ...raw, instanceName: raw.instanceName ?? 'setup', management: undefined }, 'broker setup options');
  if (raw.management) {
    await probeBroker(o);
    const mgmt = new RabbitMqManagement(raw.management);
    await mgmt.ensureVhost(o.vhost);
    // EXTERNAL logs in as the certificate's CN; the URL's user (stripped by connectTarget) is not used.
    const user = o.tls?.external ? (externalUser(o.tls) ?? '') : decodeURIComponent(new URL(o.url).username);
    if (user !== '') await mgmt.setPermissions(o.vhost, user, { configure: '.*', write: '.*', read: '.*' });
  }
  const model = await connectBroker(o, 'vip-broker-setup');
  model.on('error', () => undefined); // the close that follows is handled by the awaits below
  const session = new LinkSession(model, silentLogger);
  try {
    const ch = await session.createChannel();
    ch.on('error', () => undefined);
    await declareVolttronTopology(ch, o.vhost);
  } finally {
    await session.close(); // channel, then connection
  }
}

/**
 * Resolve once the broker at `o.url` answers on AMQP: a connection that opens, or one the broker
 * itself refuses (unknown user, no virtual host yet: what set-up is about to create). Rejects
 * with the RmqSetupError of a broker that does not answer (refused port, unknown host, timeout,
 * TLS failure) or refuses for another reason (e.g. EXTERNAL not offered).
 */
export async function probeBroker(o: RmqLinkOptions): Promise<void> {
  let model;
  try {
    model = await connectBroker(o, 'vip-broker-probe');
  } catch (err) {
    // it answered: the login or the vhost was refused (what set-up is about to create)
    if (err instanceof RmqSetupError && (err.missing === 'vhost' || (err.missing === 'credentials' && !o.tls?.external && isLoginRefusal(err.cause)))) return;
    throw err;
  }
  model.on('error', () => undefined);
  await model.close().catch(() => undefined);
}

/** amqplib's error for a login the broker refused (403 ACCESS_REFUSED during the handshake). */
function isLoginRefusal(err: unknown): boolean {
  return /ACCESS.REFUSED/.test(err instanceof Error ? err.message : String(err));
}
