import type { Logger } from '@vip/protocol';
import { openRmqBus } from './bus/rmq.js';
import { openZmqBus } from './bus/zmq.js';
import type { PlatformConfig } from './cli-options.js';
import type { PlatformBus } from './platform-bus.js';
import type { PlatformService } from './platform-service.js';
import { authService } from './services/auth.js';
import { configStoreService } from './services/config-store.js';
import { controlService } from './services/control.js';
import { healthService } from './services/health.js';
import { legacyPubsubService } from './services/legacy-pubsub.js';
import { proxyRouterService } from './services/proxy-router.js';
import { pubsubService } from './services/pubsub.js';
import { routingService } from './services/routing.js';
import { PlatformLinkTable } from '@vip/router';
import { statusService } from './services/status.js';
import { startPlatform, type RunningPlatform } from './start-platform.js';
import { version } from '../package.json';

export type { ReadyInfo, RunningPlatform } from './start-platform.js';

/** The package's version (inlined by the build): `--version`, the `vip-version` query (`platform-version` answers the VOLTTRON release vip speaks). */
export const PLATFORM_VERSION: string = version;

/**
 * The platform's services in start order (stopped in reverse): `platform.auth` first (the others
 * get its capability map), then the bus's own (RabbitMQ: broker permissions), `control`, the
 * legacy pubsub wrapper when asked for, and pubsub last (it stops first: its subscription table is
 * closed before any agent leaves). The proxy router (RabbitMQ, `--proxy-router-address`) comes
 * after the bus's own, then the config store; the status board before `control` (which answers
 * `status.snapshot` from it). Routing (links to other platforms, key discovery; ZeroMQ) comes
 * right after the bus's own; health, still to come, before `control`
 * (docs/ARCHITECTURE.md, "The platform").
 */
export function platformServices(config: PlatformConfig, bus: PlatformBus, links?: PlatformLinkTable): PlatformService[] {
  const multi = links !== undefined && config.multiPlatform !== undefined;
  // on RabbitMQ, remote (ZeroMQ) platforms' links arrive at the proxy router's ROUTER
  const proxyLinks = multi && bus.kind === 'rmq' ? links : undefined;
  const status = statusService({ version: PLATFORM_VERSION });
  return [
    authService(),
    ...bus.services,
    ...(multi
      ? [
          routingService(config.multiPlatform as NonNullable<PlatformConfig['multiPlatform']>, links, {
            ...(proxyLinks && config.proxyRouterAddress !== undefined ? { proxyRouterAddress: config.proxyRouterAddress } : {}),
          }),
        ]
      : []),
    ...(config.proxyRouterAddress !== undefined ? [proxyRouterService(config.proxyRouterAddress, proxyLinks)] : []),
    configStoreService(),
    status,
    healthService(),
    controlService({ status: (options) => status.snapshot(options) }),
    ...(config.legacyPubsub ? [legacyPubsubService()] : []),
    pubsubService(multi && bus.kind === 'zmq' ? links : undefined),
  ];
}

/** Start a platform from its configuration, on the bus it names (`startPlatform`). */
export function startVipPlatform(config: PlatformConfig, logger: Logger, onQuit: () => void): Promise<RunningPlatform> {
  // The platform's links to other platforms (ZeroMQ with authentication): the routing service
  // fills the table, the router asks it which proven users are links, pubsub sends through it.
  const links =
    config.multiPlatform !== undefined && (config.messageBus === 'zmq' || config.proxyRouterAddress !== undefined)
      ? new PlatformLinkTable({ instanceName: config.instanceName, logger })
      : undefined;
  return startPlatform({
    config,
    logger,
    onQuit,
    version: PLATFORM_VERSION,
    // on RabbitMQ the router carries agents' external calls over the proxy's platform links (bus/rmq.ts)
    openBus: config.messageBus === 'rmq' ? (opening) => openRmqBus(opening, links) : openZmqBus,
    services: (bus) => platformServices(config, bus, links),
    // the router believes the table's link users on ZeroMQ only (proven by CURVE there); on
    // RabbitMQ nothing on the broker is a link (services/proxy-links.ts)
    ...(links && config.messageBus === 'zmq' ? { platformLinks: links } : {}),
  });
}
