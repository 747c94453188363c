import type { LinkedPlatform, StatusSnapshot } from '@vip/protocol';
import type { PlatformService } from '../platform-service.js';
import { StatusBoard } from '../status/status-board.js';
import type { StatusServer } from '../status/status-server.js';

/** Where the status board learns the platform's links to other platforms and their state. */
export type LinkedPlatformsProvider = () => readonly LinkedPlatform[];

/** No multi-platform routing yet: no linked platforms. */
export const NO_LINKED_PLATFORMS: LinkedPlatformsProvider = () => [];

/** The status service, and the board `control` answers `status.snapshot` from (vipctl top). */
export interface StatusService extends PlatformService {
  /** The board now (throws before the router routes); `rates`: the latest samples to include. */
  snapshot(options?: { rates?: number }): StatusSnapshot;
}

/**
 * The platform's status board (always on: one sample of the counters a second into a bounded
 * history) and, with `--http HOST:PORT`, the status server: the live page, `/status.json`,
 * `/events` and `/metrics` (docs in apps/platform/README.md, "Status page and metrics").
 * `linkedPlatforms` is the seam the multi-platform routing service fills; `ServiceContext`'s
 * `linkedPlatforms` feed overrides it when a service publishes there.
 */
export function statusService(options: { version: string; linkedPlatforms?: LinkedPlatformsProvider }): StatusService {
  let board: StatusBoard | undefined;
  let server: StatusServer | undefined;
  return {
    name: 'status',
    configKeys: ['http', 'http-token-file'],
    async prepare(ctx) {
      const feed = ctx.linkedPlatforms;
      const fallback = options.linkedPlatforms ?? NO_LINKED_PLATFORMS;
      board = new StatusBoard({
        instance: ctx.config.instanceName,
        bus: ctx.bus.kind,
        version: options.version,
        linkedPlatforms: () => (feed.latest() ?? fallback)(),
      });
      return [board.extension];
    },
    async start(ctx) {
      const running = board as StatusBoard;
      // both transports tell the user they proved for a peer (ZeroMQ: its ZAP admission; RabbitMQ: its broker user)
      const transport = ctx.router.transport as { userFor?: (identity: string) => string | undefined };
      running.attach(ctx.router, () => (ctx.counters().transport ?? {}) as Record<string, unknown>, transport.userFor?.bind(transport));
      if (ctx.config.http) {
        // loaded only when served: prom-client and the server cost a platform without --http nothing
        const [{ createMetricsRegistry }, { startStatusServer }] = await Promise.all([
          import('../status/metrics.js'),
          import('../status/status-server.js'),
        ]);
        const metrics = createMetricsRegistry(ctx.bus.kind, () => running.figures());
        server = await startStatusServer({
          http: ctx.config.http,
          board: running,
          metrics,
          logger: ctx.logger.child({ service: 'status' }),
        });
      }
    },
    snapshot(snapshotOptions) {
      if (!board) throw new Error('the platform is starting');
      return board.snapshot(snapshotOptions);
    },
    async stop() {
      board?.close();
      await server?.close();
    },
    counters: () => (server ? { status: server.stats() } : {}),
  };
}
