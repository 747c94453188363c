import { silentLogger, type Logger } from '@vip/protocol';
import type { Agent, RpcOptions } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

/** What the control service needs of the router's Tracker (docs/protocol.md 8). */
export interface TrackerHandle {
  readonly enabled: boolean;
  enable(): void;
  disable(): void;
  get(): unknown;
}

export interface ControlServiceOptions {
  /** The router's statistics tracker. */
  readonly tracker: TrackerHandle;
  /** The always-on counters (router, transport, pubsub drops...) for `stats.counters`. */
  readonly counters?: () => unknown;
  /** Platform home: the service's keys are `keystores/control/keystore.json` (admitted on first start). */
  readonly vipHome: string;
  /** Router address to connect to (the local ipc address). */
  readonly address: string;
  /** Platform public key (43-char base64url). */
  readonly serverKey: string;
  /** Use an already built agent instead (tests); its identity should be `control`. */
  readonly agent?: Agent;
  /**
   * Capabilities for the service's `allow` checks, read on every check (the platform's
   * AuthService, in process). Undefined when authentication is off: nothing is checked then.
   */
  readonly capabilities?: Exclude<RpcOptions['capabilities'], undefined>;
  /** The status board (`status.snapshot`, vipctl top): the latest `rates` samples at most. */
  readonly status?: (options: { rates?: number }) => unknown;
  readonly logger?: Logger;
}

export const CONTROL_IDENTITY = 'control';

/** The running `control` service; `close()` stops its agent. */
export interface ControlService {
  readonly agent: Agent;
  close(): Promise<void>;
}

/**
 * The platform's `control` agent: RPCs `stats.enable`, `stats.disable`, `stats.get`,
 * `stats.enabled` over the router's Tracker (VOLTTRON `control/control.py`), and `stats.counters`
 * (always-on counters), for `vipctl stats`.
 */
export async function startControlService(options: ControlServiceOptions): Promise<ControlService> {
  const logger = (options.logger ?? silentLogger).child({ service: CONTROL_IDENTITY });
  const rpc = options.capabilities === undefined ? {} : { rpc: { capabilities: options.capabilities } };
  const agent =
    options.agent ??
    (await createZmqAgent({
      identity: CONTROL_IDENTITY,
      vipHome: options.vipHome,
      address: options.address,
      serverKey: options.serverKey,
      logger,
      ...rpc,
    }));
  exportControlMethods(agent, options.tracker, options.counters, {
    checkCapabilities: options.capabilities !== undefined,
    ...(options.status ? { status: options.status } : {}),
  });
  await agent.start();
  logger.info('control.started', { identity: agent.identity });
  return { agent, close: () => agent.close() };
}

/**
 * The capability `stats.enable`/`stats.disable` require: enabling resets the counters, so any
 * agent could otherwise wipe what an operator is watching. The first-start auth.json grants it to
 * the platform's own users (`platform`: vipctl on ZeroMQ, `control`, `control.connection`).
 */
export const MANAGE_PLATFORM_STATS = 'manage_platform_stats';

/**
 * Export the control RPCs on `agent` (separate for tests over any transport). With
 * `checkCapabilities` (authentication on), `stats.enable`/`stats.disable` require
 * MANAGE_PLATFORM_STATS; reading the statistics stays open, as in VOLTTRON.
 */
export function exportControlMethods(
  agent: Agent,
  tracker: TrackerHandle,
  counters?: () => unknown,
  options: { checkCapabilities?: boolean; status?: (options: { rates?: number }) => unknown } = {},
): void {
  const rpc = agent.rpc;
  const allow = options.checkCapabilities === false ? {} : { allow: MANAGE_PLATFORM_STATS };
  rpc.export(
    'stats.enable',
    () => {
      tracker.enable();
      return null;
    },
    { doc: 'Start counting router messages (resets the counters).', ...allow },
  );
  rpc.export(
    'stats.disable',
    () => {
      tracker.disable();
      return null;
    },
    { doc: 'Stop counting router messages.', ...allow },
  );
  rpc.export('stats.enabled', () => tracker.enabled, { doc: 'True while the router counts messages.' });
  rpc.export('stats.get', () => tracker.get(), { doc: 'The router message counters.' });
  // Not in VOLTTRON: counters that are always on (drops by reason, pubsub back-pressure drops,
  // errors sent), so an operator sees loss without having enabled the Tracker first.
  if (counters) rpc.export('stats.counters', () => counters(), { doc: 'Always-on router, transport and pubsub counters.' });
  const status = options.status;
  if (status) {
    // Not in VOLTTRON: the status board (peers, topics, rates, Tracker, links) for vipctl top.
    rpc.export('status.snapshot', (rates?: unknown) => status({ rates: Math.min(Math.max(Math.trunc(Number(rates) || 60), 0), 600) }), {
      doc: 'The status board: peers, topics, the latest rate samples (argument: how many, default 60, at most 600).',
    });
  }
}
