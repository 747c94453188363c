import { connectAnyNode } from '../transport/broker-link.js';
import { declareVolttronTopology } from '../transport/topology.js';
import { RabbitMqManagement, type ManagementOptions } from './rabbitmq-management.js';
import { RmqSetupError } from '../transport/rmq-errors.js';
import { externalUser, parseRmqLinkOptions, type RmqLinkOptions, type RmqLinkOptionsInput } from '../transport/rmq-options.js';
import { LinkSession } from '../transport/link-session.js';
import { silentLogger } from '@vip/protocol';

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
  const model = await connectAnyNode(o, 'vip-broker-setup');
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
    model = await connectAnyNode(o, 'vip-broker-probe');
  } catch (err) {
    // it answered: the login or the vhost was refused (what set-up is about to create)
    if (
      err instanceof RmqSetupError &&
      (err.missing === 'vhost' || (err.missing === 'credentials' && !o.tls?.external && isLoginRefusal(err.cause)))
    )
      return;
    throw err;
  }
  model.on('error', () => undefined);
  await model.close().catch(() => undefined);
}

/** amqplib's error for a login the broker refused (403 ACCESS_REFUSED during the handshake). */
function isLoginRefusal(err: unknown): boolean {
  return /ACCESS.REFUSED/.test(err instanceof Error ? err.message : String(err));
}
