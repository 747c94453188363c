import { VIP_VERSION_PROPERTY, VOLTTRON_COMPATIBLE_VERSION } from '@vip/protocol';
import type { QueryProperties } from '@vip/router';
import type { PlatformConfig } from './cli-options.js';
import type { PlatformBus } from './platform-bus.js';

/** VOLTTRON's default `agent-monitor-frequency` (seconds), answered as a 4-byte int. */
export const AGENT_MONITOR_FREQUENCY = 600;

/** What the router answers to `query` (docs/protocol.md 2.4), the same on both buses. */
export function platformQuery(o: {
  readonly config: PlatformConfig;
  readonly bus: PlatformBus;
  readonly serverkey: string | null;
  readonly version: string;
  /** The always-on counters, as JSON in `vip-router-stats`. */
  readonly counters: () => Record<string, unknown>;
}): QueryProperties {
  return {
    addresses: () => o.bus.addresses(),
    local_address: o.bus.localAddress,
    serverkey: o.serverkey,
    'instance-name': o.config.instanceName,
    // VOLTTRON agents read this as VOLTTRON's version; vip's own is `vip-version` below
    'platform-version': VOLTTRON_COMPATIBLE_VERSION,
    'message-bus': o.bus.kind,
    'agent-monitor-frequency': AGENT_MONITOR_FREQUENCY,
    'volttron-central-address': null,
    'volttron-central-serverkey': null,
    'bind-web-address': null,
    // Not VOLTTRON properties: vip's version, and the router's always-on counters and the transport's, as JSON.
    [VIP_VERSION_PROPERTY]: o.version,
    'vip-router-stats': () => JSON.stringify(o.counters()),
  };
}
