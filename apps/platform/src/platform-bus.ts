import type { CurveKeyPair, Logger, RouterExtension, RouterTransport } from '@vip/protocol';
import type { ReservedIdentities, Router, RouterOptions } from '@vip/router';
import type { PlatformConfig } from './cli-options.js';
import type { PlatformAuth } from './platform-auth.js';
import type { PlatformService, ServiceBus } from './platform-service.js';
import type { VipHomePaths } from '@vip/auth';

/** What the platform needs to open a bus. */
export interface BusOpening {
  readonly config: PlatformConfig;
  readonly paths: VipHomePaths;
  readonly logger: Logger;
  /** auth.json and its watcher (loaded once the bus is open); undefined with authentication off. */
  readonly auth: PlatformAuth | undefined;
  /** The platform's key pair (`$VIP_HOME/keystore`); undefined with authentication off. */
  readonly keys: CurveKeyPair | undefined;
}

/**
 * The message bus a platform runs on (ZeroMQ or RabbitMQ): the router's transport and what the bus
 * decides of the router, the addresses it answers, how the platform's own service agents connect,
 * what `run/bus.json` records, the bus's start checks and its own services. `startPlatform` runs
 * the rest the same way on both.
 */
export interface PlatformBus extends ServiceBus {
  readonly transport: RouterTransport & { stats(): object };
  /** Router options the bus decides: identity, reserved identities, control's users, its own extensions. */
  readonly router: Pick<RouterOptions, 'identity' | 'controlUsers' | 'queryReply'> & {
    readonly reservedIdentities?: ReservedIdentities;
    readonly extensions: readonly RouterExtension[];
  };
  /** `query addresses` (read at each query: ZeroMQ's bound addresses are known once it binds). */
  addresses(): readonly string[];
  /** Services only this bus runs (RabbitMQ: broker permissions), listed after `platform.auth`. */
  readonly services: readonly PlatformService[];
  /**
   * Start the router (auth.json is loaded by then), with the bus's start steps and checks (ZeroMQ:
   * the ZAP handler first; RabbitMQ: another platform holding the instance name).
   */
  startRouter(router: Router): Promise<void>;
  /** The router is bound (ZeroMQ: known_hosts, a stale run/bus.json removed); resolves the addresses of the ready line. */
  bound(): Promise<readonly string[]>;
  /** Every service runs (RabbitMQ: run/bus.json written). */
  ready(): Promise<void>;
  /** Counters of the bus beside the transport's (ZeroMQ: the memory reclaimer). */
  counters(): Record<string, unknown>;
  /** After the router stopped: what the bus opened (ZAP handler, reclaimer, run/bus.json record). */
  close(): Promise<void>;
  /** A start failure as the operator should read it (RabbitMQ: the flags behind an option name). */
  describeFailure(err: unknown): unknown;
}
