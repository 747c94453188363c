import { rm } from 'node:fs/promises';
import { createRmqAgent } from '@vip/agent/rmq';
import { platformBrokerUser, proxyBrokerUser, rmqRouterOptions, RmqRouterTransport, RmqSetupError } from '@vip/rmq';
import { ensureVolttronBroker } from '@vip/rmq/admin';
import { ReservedIdentities, type PlatformLinkTable } from '@vip/router';
import { busInfoPath, stoppedBusInfo, writeBusInfo, type BusInfo } from '../bus-info.js';
import type { PlatformConfig, RmqBusConfig } from '../cli-options.js';
import type { BusOpening, PlatformBus } from '../platform-bus.js';
import { platformLoginUrl } from '../rmq-platform-user.js';
import { brokerServiceUsers } from '../service-identities.js';
import { rmqPermissionsService } from '../services/rmq-permissions.js';

/**
 * The platform on RabbitMQ (docs/protocol.md 7): the broker made ready (virtual host through the
 * management API when configured, VOLTTRON's exchanges), RmqRouterTransport under a router with the
 * RMQ peerlist operations (`rmqRouterOptions`), the platform's service agents as RMQ agents, and
 * the bus recorded in `$VIP_HOME/run/bus.json` for vipctl. auth.json still supplies the
 * capabilities; RabbitMQ's own users and permissions admit clients (no CURVE on this bus). The
 * platform logs in as its own broker user `<instance>.router` (platformLoginUrl), the one login
 * whose AMQP user_id proves the platform's identities, and its receivers require proof from
 * everyone else (sender-trust in @vip/rmq) except configured legacy peers; `--rmq-shared-login`
 * opts out of both. With the management API the broker permissions service runs too
 * (services/rmq-permissions.ts: the hello check, protected topics as topic permissions).
 */
export async function openRmqBus(o: BusOpening, links?: PlatformLinkTable): Promise<PlatformBus> {
  const { config, paths, logger } = o;
  const rmq = requireRmq(config);
  const instanceName = config.instanceName;
  const base = { ...platformLinkBase(rmq, instanceName), ...(rmq.brokerUser !== undefined ? { brokerUser: rmq.brokerUser } : {}) };
  const link = {
    ...base,
    url: await platformLoginUrl(rmq, base, logger).catch((err: unknown) => {
      throw withFlagNames(err, rmq);
    }),
  };
  await ensureVolttronBroker({ ...link, ...(rmq.management ? { management: rmq.management } : {}) }).catch((err: unknown) => {
    throw withFlagNames(err, rmq);
  });
  const address = brokerAddress(rmq);
  const limits = config.limits;
  const transport = new RmqRouterTransport({
    ...link,
    logger,
    maxMessageBytes: limits.maxMessageBytes,
    maxPendingBytes: limits.routerQueueBytes,
    ...(rmq.management ? { management: rmq.management } : {}),
    // the platforms linked through the proxy router (services/proxy-links.ts): agents' external
    // calls to them, which no shovel or federation takes, go over those links (docs/protocol.md 7.8)
    ...(links ? { platformLinks: (platform: string) => links.knows(platform) } : {}),
  });
  const { identity, controlUsers, extensions, queryReply } = rmqRouterOptions(instanceName);
  // the platform's own agents count subscribers through the configured management API only
  const management = rmq.management ?? (false as const);
  let running: BusInfo | undefined;
  return {
    kind: 'rmq',
    transport,
    router: {
      identity,
      controlUsers,
      queryReply,
      reservedIdentities: new ReservedIdentities(brokerServiceUsers(instanceName)),
      extensions,
    },
    localAddress: address,
    addresses: () => [address],
    capabilityUsers: (byUser) => rmqCapabilities(byUser, instanceName),
    serviceAgents: {
      create: (id, options) =>
        Promise.resolve(
          createRmqAgent({ identity: id, rmq: link, management, logger: options.logger, ...(options.rpc ? { rpc: options.rpc } : {}) }),
        ),
    },
    services: rmq.management
      ? [
          rmqPermissionsService({
            management: rmq.management,
            vhost: rmq.vhost,
            instanceName,
            protectedTopicsPath: paths.protectedTopics,
            // the platform's own logins never get topic permissions; the proxy router's publishes for
            // many users (its ZeroMQ peers, linked platforms' publishers), each checked in the proxy
            exclude: [
              decodeURIComponent(new URL(rmq.url).username),
              rmq.management.user,
              platformBrokerUser(instanceName),
              proxyBrokerUser(instanceName),
              ...(rmq.brokerUser !== undefined ? [rmq.brokerUser] : []),
            ],
          }),
        ]
      : [],
    async startRouter(router) {
      await router.start().catch((err: unknown) => {
        if (!(err instanceof RmqSetupError && err.missing === 'identity')) throw err;
        throw new RmqSetupError(
          'identity',
          `another platform with instance name ${instanceName} is running on ${address}`,
          'stop it, or give this one another --instance-name or --rmq-vhost',
          { cause: err },
        );
      });
    },
    bound: () => Promise.resolve([address]),
    async ready() {
      const info: BusInfo = {
        bus: 'rmq',
        url: link.url,
        vhost: rmq.vhost,
        ...(rmq.sharedLogin ? { sharedLogin: true } : {}),
        instance: instanceName,
        pid: process.pid,
        ...(rmq.management ? { management: rmq.management } : {}),
        ...(rmq.tls ? { tls: rmq.tls.files } : {}),
        ...(rmq.brokerUser !== undefined ? { brokerUser: rmq.brokerUser } : {}),
        ...(rmq.failoverUrls !== undefined ? { failoverUrls: rmq.failoverUrls } : {}),
      };
      await writeBusInfo(paths.home, info);
      running = info;
    },
    counters: () => ({}),
    async close() {
      // a run that was ready leaves a stopped record (vipctl: "not running", not a ZeroMQ attempt); a failed start nothing
      if (running) await writeBusInfo(paths.home, stoppedBusInfo(running));
      else await rm(busInfoPath(paths.home), { force: true });
    },
    describeFailure: (err) => withFlagNames(err, rmq),
  };
}

/** The broker link of the platform's own clients, before their login (the URL's user or their own). */
export function platformLinkBase(rmq: RmqBusConfig, instanceName: string) {
  return {
    url: rmq.url,
    vhost: rmq.vhost,
    instanceName,
    ...(rmq.tls ? { tls: rmq.tls.pem } : {}),
    // what the platform's receivers believe of unproven senders (router, control, platform.auth)
    senderProof: rmq.sharedLogin ? ('optional' as const) : ('required' as const),
    ...(rmq.legacyPeers !== undefined ? { legacyPeers: rmq.legacyPeers === '*' ? ('*' as const) : [...rmq.legacyPeers] } : {}),
    ...(rmq.failoverUrls !== undefined ? { failoverUrls: [...rmq.failoverUrls] } : {}),
    ...(rmq.persistentQueueType !== undefined ? { persistentQueueType: rmq.persistentQueueType } : {}),
  };
}

/**
 * @vip/rmq words its fixes in its option names (tls.cert, brokerUser); the operator of this
 * platform set flags: a credentials error (certificate, CA, broker user) gets the flags in use.
 */
function withFlagNames(err: unknown, rmq: RmqBusConfig): unknown {
  if (!(err instanceof RmqSetupError) || err.missing !== 'credentials' || !rmq.tls) return err;
  const f = rmq.tls.files;
  const legend = [
    `tls.cert is --rmq-cert ${f.cert ?? '(none)'}`,
    `tls.key --rmq-key ${f.key ?? '(none)'}`,
    `tls.ca --rmq-ca ${f.ca ?? '(none: system CAs)'}`,
    ...(f.servername !== undefined ? [`tls.servername --rmq-servername ${f.servername}`] : []),
    ...(rmq.brokerUser !== undefined ? [`brokerUser --rmq-broker-user ${rmq.brokerUser} (leave it out to set no user_id)`] : []),
  ].join(', ');
  const problem = err.message.slice(0, err.message.length - `; fix: ${err.fix}`.length);
  return new RmqSetupError(err.missing, problem, `${err.fix} (${legend})`, { cause: err });
}

function requireRmq(config: PlatformConfig): RmqBusConfig {
  if (!config.rmq) throw new RmqSetupError('broker', 'the rmq bus was chosen without broker settings', 'pass --rmq-url (and --rmq-vhost)');
  return config.rmq;
}

/**
 * auth.json capabilities keyed by user id, also under `<instance>.<user>`: on RabbitMQ an agent's
 * VIP user is its broker user `<instance>.<identity>` by default (docs/protocol.md 7.1).
 */
function rmqCapabilities<C>(byUser: Readonly<Record<string, C>>, instanceName: string): Record<string, C> {
  const out: Record<string, C> = { ...byUser };
  for (const [user, caps] of Object.entries(byUser)) {
    const prefixed = `${instanceName}.${user}`;
    if (!Object.hasOwn(byUser, prefixed)) out[prefixed] = caps;
  }
  return out;
}

/** `amqp://host:port/vhost`: where the platform is, without credentials (ready line, `addresses`). */
export function brokerAddress(rmq: RmqBusConfig): string {
  const u = new URL(rmq.url);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}/${encodeURIComponent(rmq.vhost)}`;
}
