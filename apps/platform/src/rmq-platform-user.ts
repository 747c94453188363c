import { randomBytes } from 'node:crypto';
import { ConfigError, type Logger } from '@vip/protocol';
import { parseRmqLinkOptions, proxyBrokerUser, RmqSetupError, routingKeyFor, type RmqLinkOptionsInput } from '@vip/rmq';
import { probeBroker, RabbitMqManagement, syncTopicPermissions } from '@vip/rmq/admin';
import type { RmqBusConfig } from './cli-options.js';

/** Full rights on the platform's own vhost: it declares the exchanges and queues of router, control and platform.auth. */
const PLATFORM_PERMISSIONS = { configure: '.*', write: '.*', read: '.*' } as const;

/**
 * The broker URL the platform logs in with (README "RabbitMQ logins").
 *
 * - Shared login (`--rmq-shared-login`, opt-in): the URL as given; a warning says that any client
 *   of that login can act as any identity.
 * - Per-agent users (default) with `platformUser`: broker user `<instance>.router` is created (or
 *   given a new random password) through the management API with VOLTTRON's vhost-owner rights,
 *   after the broker has answered on AMQP and the vhost exists, and only when no router of this
 *   instance is consuming on the vhost (a running platform keeps its login: changing the password
 *   would break its reconnects). The password lives in memory and in `run/bus.json` (0600) for
 *   vipctl; a restart makes a new one.
 * - Otherwise the URL or certificate already logs in as `<instance>.router`: used as is.
 */
export async function platformLoginUrl(rmq: RmqBusConfig, link: RmqLinkOptionsInput, logger: Logger): Promise<string> {
  if (rmq.sharedLogin) {
    const u = new URL(rmq.url);
    logger.warn('rmq.shared-login', {
      user: u.username === '' ? '(amqplib default)' : decodeURIComponent(u.username),
      risk:
        "every client of this login can act as any identity, including the platform's: no sender is proven; " +
        'run without --rmq-shared-login to give the platform and each agent its own broker user',
    });
    return rmq.url;
  }
  const user = rmq.platformUser;
  if (user === undefined || !rmq.management) return rmq.url;
  const password = randomBytes(24).toString('base64url');
  const url = new URL(rmq.url);
  url.username = user; // an instance name is letters, digits, '_', '-': nothing to escape
  url.password = password;
  const platformUrl = url.toString().replace(/\/$/, '');
  // nothing is created before the broker answers on AMQP (a refused port or unknown host stops here)
  await probeBroker(parseRmqLinkOptions({ ...link, url: platformUrl }, 'RabbitMQ platform options'));
  const api = new RabbitMqManagement(rmq.management);
  await api.ensureVhost(rmq.vhost);
  const routerQueue = routingKeyFor(link.instanceName, 'router');
  if ((await api.listQueues(rmq.vhost)).has(routerQueue)) {
    throw new RmqSetupError(
      'identity',
      `another platform with instance name ${link.instanceName} is running on virtual host ${rmq.vhost} (queue ${routerQueue} exists)`,
      'stop it, or give this one another --instance-name or --rmq-vhost',
    );
  }
  await api.ensureUser(user, password);
  await api.setPermissions(rmq.vhost, user, PLATFORM_PERMISSIONS);
  logger.info('rmq.platform-user', { user, vhost: rmq.vhost });
  return platformUrl;
}

/**
 * The login of the ZeroMQ proxy router (services/proxy-router.ts). Per-agent users (default): its
 * own broker user `<instance>.zmq.proxy.router` (VOLTTRON's), created through the management API
 * with a new random password at each start and deleted at stop, the one login receivers believe
 * for the ZeroMQ peers it hosts (@vip/rmq sender-trust, trust `proxied`). Shared login: the URL as
 * given, where nothing is proven. It has no topic permission (rmq-permissions leaves it out): the
 * proxy checks protected topics for each publisher it speaks for. EXTERNAL logins and per-agent users without the management API:
 * a ConfigError saying what to pass.
 */
export async function proxyLogin(
  rmq: RmqBusConfig,
  instanceName: string,
  logger: Logger,
): Promise<{ url: string; dispose(): Promise<void> }> {
  if (rmq.sharedLogin) return { url: rmq.url, dispose: () => Promise.resolve() };
  if (rmq.tls?.files.external || !rmq.management) {
    throw new ConfigError(
      "invalid option: --proxy-router-address on per-agent broker users needs --rmq-management-url (to create the proxy's " +
        `broker user ${proxyBrokerUser(instanceName)}) without --rmq-external, or --rmq-shared-login`,
    );
  }
  const user = proxyBrokerUser(instanceName);
  const password = randomBytes(24).toString('base64url');
  const api = new RabbitMqManagement(rmq.management);
  await api.ensureUser(user, password);
  await api.setPermissions(rmq.vhost, user, PLATFORM_PERMISSIONS);
  // no topic permission (one left by a run that died, or by an older platform that synced it as an
  // agent user): the proxy checks protected topics per publisher itself, the broker could not
  await syncTopicPermissions(api, rmq.vhost, user, undefined);
  logger.info('rmq.proxy-user', { user, vhost: rmq.vhost });
  const url = new URL(rmq.url);
  url.username = user;
  url.password = password;
  return { url: url.toString().replace(/\/$/, ''), dispose: () => api.deleteUser(user) };
}
