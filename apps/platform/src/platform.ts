import type { Logger } from '@vip/protocol';
import { openRmqBus } from './bus/rmq.js';
import { openZmqBus } from './bus/zmq.js';
import type { PlatformConfig } from './cli-options.js';
import type { PlatformBus } from './platform-bus.js';
import type { PlatformService } from './platform-service.js';
import { authService } from './services/auth.js';
import { controlService } from './services/control.js';
import { healthService } from './services/health.js';
import { legacyPubsubService } from './services/legacy-pubsub.js';
import { pubsubService } from './services/pubsub.js';
import { startPlatform, type RunningPlatform } from './start-platform.js';
import { version } from '../package.json';

export type { ReadyInfo, RunningPlatform } from './start-platform.js';

/** The package's version (inlined by the build): `--version`, the `vip-version` query (`platform-version` answers the VOLTTRON release vip speaks). */
export const PLATFORM_VERSION: string = version;

/**
 * The platform's services in start order (stopped in reverse): `platform.auth` first (the others
 * get its capability map), then the bus's own (RabbitMQ: broker permissions), `control`, the
 * legacy pubsub wrapper when asked for, and pubsub last (it stops first: its subscription table is
 * closed before any agent leaves). Where the services still to come go: routing, key discovery and
 * the proxy router after the bus's own, config store and health before `control`
 * (docs/ARCHITECTURE.md, "The platform").
 */
export function platformServices(config: PlatformConfig, bus: PlatformBus): PlatformService[] {
  return [
    authService(),
    ...bus.services,
    healthService(),
    controlService(),
    ...(config.legacyPubsub ? [legacyPubsubService()] : []),
    pubsubService(),
  ];
}

/** Start a platform from its configuration, on the bus it names (`startPlatform`). */
export function startVipPlatform(config: PlatformConfig, logger: Logger, onQuit: () => void): Promise<RunningPlatform> {
  return startPlatform({
    config, logger, onQuit, version: PLATFORM_VERSION,
    openBus: config.messageBus === 'rmq' ? openRmqBus : openZmqBus,
    services: (bus) => platformServices(config, bus),
  });
}
