import { access } from 'node:fs/promises';
import { ConfigError, type CurveKeyPair, type Frame, type Logger } from '@vip/protocol';
import {
  KeyDiscoveryAgent,
  PlatformDiscoveryFile,
  pickDiscoveryVipAddress,
  serveDiscovery,
  type DiscoveryServer,
  type KeyDiscoveryMode,
  type PlatformDiscovery,
  type RoutingTableHandlers,
} from '@vip/keydiscovery';
import { ExternalRpcExtension, linkUserOf, RoutingTableExtension, type OutgoingPlatformLink, type PlatformLinkTable } from '@vip/router';
import { brokerSendersAreNotLinks, underInstance } from './proxy-links.js';
import { ZmqPlatformLink } from '@vip/zmq';
import type { MultiPlatformConfig } from '../cli-options.js';
import type { PlatformService } from '../platform-service.js';

/**
 * Multi-platform on ZeroMQ (docs/protocol.md 6): the `routing_table` and `external_rpc` router
 * extensions over the platform's PlatformLinkTable, one outgoing link (ZmqPlatformLink, CURVE with
 * the platform key) per platform key discovery hands over, the ZAP admission of those platforms'
 * keys as their links' users (before auth.json is asked), `/discovery/` served on
 * `bind-web-address`, and KeyDiscoveryAgent in setup mode (`setup-mode`) or normal mode (when the
 * discovery file exists). The platforms recorded in the discovery file are admitted from the
 * start, so a linked platform reconnecting after this one restarted gets in at once.
 *
 * On RabbitMQ (`proxyRouterAddress`, with `--multi-platform true`): no outgoing links; the platforms
 * discovery hands over are only admitted, their links arrive at the proxy router
 * (services/proxy-links.ts), `/discovery/` names the proxy's address, and the extensions run on the
 * RMQ router with no broker sender taken for a link.
 */
export interface RoutingServiceOptions {
  /**
   * RabbitMQ bus: remote ZeroMQ platforms link to the proxy router bound here (services/proxy-links.ts)
   * instead of this platform dialling them; it is the vip-address `/discovery/` serves.
   */
  readonly proxyRouterAddress?: string;
}

export function routingService(
  config: MultiPlatformConfig,
  table: PlatformLinkTable,
  options: RoutingServiceOptions = {},
): PlatformService {
  const viaProxy = options.proxyRouterAddress;
  let discovery: KeyDiscoveryAgent | undefined;
  let server: DiscoveryServer | undefined;
  let logger: Logger | undefined;
  let keys: CurveKeyPair | undefined;
  const links = new Map<string, { readonly key: string; readonly address: string; readonly link: ZmqPlatformLink }>();
  let ownAddresses: () => readonly string[] = () => [];

  const linkTo = (p: PlatformDiscovery): void => {
    if (keys === undefined) throw new ConfigError('multi-platform links need the platform key (authentication on)');
    if (ownAddresses().includes(p.vipAddress)) return; // ourselves under another name (VOLTTRON skips it too)
    table.addPlatform(p.instanceName, { serverKey: p.serverKey, vipAddress: p.vipAddress });
    if (viaProxy !== undefined) return; // its link comes to the proxy router, proven by that key
    const known = links.get(p.instanceName);
    if (known !== undefined && known.key === p.serverKey && known.address === p.vipAddress) return;
    const instance = p.instanceName;
    const link = new ZmqPlatformLink({
      instance,
      address: p.vipAddress,
      serverKey: p.serverKey,
      publicKey: keys.public,
      secretKey: keys.secret,
      onState: (state) => table.linkState(instance, state),
      onMessage: (m) => table.arrived(instance, m),
      ...(logger ? { logger } : {}),
    });
    links.set(instance, { key: p.serverKey, address: p.vipAddress, link });
    table.setLink(instance, asOutgoing(link));
    link.open();
  };

  const handlers: RoutingTableHandlers = {
    webAddresses: (addresses) => logger?.info('routing.setup.web_addresses', { count: addresses.length }),
    setupModeConnection: (p) => linkTo(p),
    normalModeConnection: (p) => linkTo(p),
  };

  return {
    name: 'routing',
    configKeys: [
      'instance-name',
      'bind-web-address',
      'setup-mode',
      'external-platform-discovery',
      'external-address-file',
      'accept-changed-key',
      'multi-platform',
    ],
    async prepare(ctx) {
      logger = ctx.logger.child({ service: 'routing' });
      keys = ctx.platformKeys;
      // The platforms recorded before: admitted as links from the first connection on.
      for (const e of await new PlatformDiscoveryFile(config.discoveryFile).entries().catch(() => [])) {
        if (!e.ok) continue;
        const name = e.entry['instance-name'] ?? e.key;
        if (name !== ctx.config.instanceName) table.addPlatform(name, { serverKey: e.entry.serverkey, vipAddress: e.entry['vip-address'] });
      }
      // the status page's linked platforms
      ctx.linkedPlatforms.publish(() =>
        table.status().map((l) => ({
          instance: l.instance,
          address: l.vipAddress ?? '',
          since: l.since,
          state: l.state === 'CONNECTED' ? 'connected' : l.state === 'DISCONNECTED' ? 'down' : 'connecting',
        })),
      );
      ctx.auth?.admitLinks({
        userForKey: (key) => {
          const instance = table.instanceWithKey(key);
          return instance === undefined ? undefined : linkUserOf(instance);
        },
        isLinkUser: (userId) => table.has(userId),
      });
      const extensions = [
        new RoutingTableExtension(table),
        // on RabbitMQ a callee reads users as `<instance>.<user>` (VOLTTRON's broker users): the remote
        // caller's `<its platform>.<user>` goes under this instance, so the callee sees the qualified user
        new ExternalRpcExtension(table, viaProxy === undefined ? {} : { remoteUser: underInstance(ctx.config.instanceName) }),
      ];
      return viaProxy === undefined ? extensions : extensions.map((e) => brokerSendersAreNotLinks(e, ctx.config.instanceName));
    },
    async start(ctx) {
      ownAddresses = () => ctx.bus.addresses();
      if (config.bindWebAddress !== undefined) {
        server = await serveDiscovery({
          bindWebAddress: config.bindWebAddress,
          info: () => ({
            instanceName: ctx.config.instanceName,
            vipAddress: viaProxy ?? pickDiscoveryVipAddress(ctx.bus.addresses()),
            serverKey: ctx.platformKey,
          }),
          ...(logger ? { logger } : {}),
        });
        logger?.info('routing.discovery.serving', { url: server.discoveryUrl });
      }
      const mode: KeyDiscoveryMode | undefined = config.setupMode ? 'setup' : (await exists(config.discoveryFile)) ? 'normal' : undefined;
      if (mode === undefined) return;
      discovery = new KeyDiscoveryAgent({
        vipHome: ctx.paths.home,
        instanceName: ctx.config.instanceName,
        mode,
        routing: handlers,
        bindWebAddress: server?.url ?? config.bindWebAddress,
        acceptChangedKeys: config.acceptChangedKeys,
        paths: { platformDiscovery: config.discoveryFile, externalAddresses: config.externalAddressFile },
        ...(logger ? { logger } : {}),
      });
      // In the background: the platform routes while other platforms are asked (bounded retries).
      discovery.run().then(
        (report) =>
          logger?.info('routing.discovery.done', {
            mode: report.mode,
            results: report.results.map((r) => `${r.target}:${r.outcome}`).join(' '),
          }),
        (err: unknown) => logger?.error('routing.discovery.failed', { mode }, err),
      );
    },
    async stop() {
      await discovery?.close();
      await server?.close();
      await table.close();
      links.clear();
    },
    counters: () => ({
      platforms: table.status(),
      ...(discovery ? { keyDiscovery: { ...discovery.stats(), platforms: discovery.status() } } : {}),
      ...(server ? { discoveryServer: server.stats() } : {}),
    }),
  };
}

function asOutgoing(link: ZmqPlatformLink): OutgoingPlatformLink {
  return {
    send: (user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], onFailed?: () => void) =>
      link.send(user, id, subsystem, args, onFailed),
    close: () => link.close(),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
