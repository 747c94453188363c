import type { LinkedPlatform, Logger, PlatformLinks, RouterExtension } from '@vip/protocol';
import type { ProtectedTopics } from '@vip/pubsub';
import { Router } from '@vip/router';
import { KeyStore, prepareVipHome } from '@vip/auth';
import type { UserToCapabilities } from './auth-service/index.js';
import type { PlatformConfig } from './cli-options.js';
import { PlatformAuth } from './platform-auth.js';
import type { BusOpening, PlatformBus } from './platform-bus.js';
import { Feed, type PlatformService, type RunningContext, type ServiceContext } from './platform-service.js';
import { platformQuery } from './query-properties.js';

/** What the ready line reports. */
export interface ReadyInfo {
  readonly addresses: readonly string[];
  readonly serverkey: string | null;
  readonly instance: string;
  readonly pid: number;
}

/** A running platform: bus, router and services, stopped as one. */
export interface RunningPlatform {
  readonly ready: ReadyInfo;
  readonly router: Router;
  /** Idempotent; resolves when every socket is closed. */
  stop(): Promise<void>;
}

export interface PlatformParts {
  readonly config: PlatformConfig;
  readonly logger: Logger;
  readonly onQuit: () => void;
  readonly version: string;
  /** Opens the bus (ZeroMQ or RabbitMQ). */
  readonly openBus: (opening: BusOpening) => Promise<PlatformBus>;
  /** The services, in start order, once the bus is open (its own services among them). */
  readonly services: (bus: PlatformBus) => readonly PlatformService[];
  /** This platform's links to other platforms (the routing service fills them); default none. */
  readonly platformLinks?: PlatformLinks;
}

/**
 * Start a platform over a bus and a list of services: prepare VIP_HOME, load or create the
 * platform key pair and auth.json (authentication on), open the bus, load auth.json, prepare each
 * service (its router extensions registered), start the router (the bus's start steps), start each
 * service (their agents connect), say the bus is ready. A failure stops what started: services in
 * reverse order, the router, the bus, auth.json's watcher.
 */
export async function startPlatform(parts: PlatformParts): Promise<RunningPlatform> {
  const { config, logger } = parts;
  const paths = await prepareVipHome(config.vipHome);
  const keys = config.allowAuth ? await KeyStore.platform(paths.home, { logger }).loadOrCreate() : undefined;
  const auth = keys ? new PlatformAuth({ vipHome: paths.home, platformPublicKey: keys.public, logger }) : undefined;
  let bus: PlatformBus | undefined;
  let router: Router | undefined;
  let authLoading = false;
  const prepared: PlatformService[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      const failures: unknown[] = [];
      const attempt = async (what: string, step: (() => Promise<void>) | undefined) => {
        try {
          await step?.();
        } catch (err) {
          logger.warn('platform.stop.step_failed', { step: what }, err);
          failures.push(err);
        }
      };
      for (const service of [...prepared].reverse()) await attempt(service.name, () => service.stop());
      await attempt('router', router && (() => (router as Router).stop()));
      await attempt('bus', bus && (() => (bus as PlatformBus).close()));
      if (authLoading) await attempt('auth', auth && (() => auth.close()));
      if (failures.length > 0) throw failures[0];
    })());

  const counters = (): Record<string, unknown> => ({
    router: router?.stats(),
    transport: bus?.transport.stats(),
    memory: process.memoryUsage(),
    ...bus?.counters(),
    // auth: reloads refused or failed
    ...(auth ? { auth: auth.watcher.stats() } : {}),
    ...Object.assign({}, ...prepared.map((s) => s.counters?.() ?? {})),
  });
  try {
    bus = await parts.openBus({ config, paths, logger, auth, keys });
    authLoading = true;
    await auth?.load();
    const services = parts.services(bus);
    const context: ServiceContext = {
      config,
      paths,
      logger,
      bus,
      auth,
      platformKey: keys?.public,
      platformKeys: keys,
      capabilities: new Feed<UserToCapabilities>(),
      protectedTopics: new Feed<ProtectedTopics>(),
      linkedPlatforms: new Feed<() => readonly LinkedPlatform[]>(),
    };
    const extensions: RouterExtension[] = [...bus.router.extensions];
    for (const service of services) {
      prepared.push(service);
      const own = await service.prepare?.(context);
      if (own) extensions.push(...own);
    }
    const { identity, controlUsers, reservedIdentities, queryReply } = bus.router;
    router = new Router({
      transport: bus.transport,
      ...(identity !== undefined ? { identity } : {}),
      ...(controlUsers !== undefined ? { controlUsers } : {}),
      ...(reservedIdentities ? { reservedIdentities } : {}),
      ...(queryReply ? { queryReply } : {}),
      instanceName: config.instanceName,
      ...(parts.platformLinks ? { platformLinks: parts.platformLinks } : {}),
      extensions,
      query: platformQuery({ config, bus, serverkey: keys?.public ?? null, version: parts.version, counters }),
      logger,
      onQuit: parts.onQuit,
    });
    await bus.startRouter(router);
    const addresses = await bus.bound();
    const running: RunningContext = { ...context, router, counters };
    for (const service of services) await service.start?.(running);
    await bus.ready();
    return {
      ready: { addresses, serverkey: keys?.public ?? null, instance: config.instanceName, pid: process.pid },
      router,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined); // the start failure is the one to report
    throw bus ? bus.describeFailure(err) : err;
  }
}
