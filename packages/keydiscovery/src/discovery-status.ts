import type { PlatformDiscovery } from './discovery-info.js';
import type { AcceptedKeyChange } from './key-pinning.js';

/** How one platform's discovery ended. */
export type PlatformResult = DiscoveredPlatform | UnlinkedPlatform;

/** Handed to the routing service. */
export interface DiscoveredPlatform {
  readonly outcome: 'discovered';
  /** The web address (setup mode, normal mode with a recorded web address) or the file entry's key. */
  readonly target: string;
  readonly platform: PlatformDiscovery;
  readonly webAddress?: string | undefined;
  /** `discovery`: from the endpoint's answer; `file`: as recorded in external_platform_discovery.json. */
  readonly source: 'discovery' | 'file';
  /** Fetches made (0 when the entry had no web address). */
  readonly attempts: number;
  /** The platform's key had changed and the operator accepted the new one. */
  readonly keyChanged?: AcceptedKeyChange | undefined;
  /** Normal mode: why the endpoint could not confirm the entry, which was used as recorded. */
  readonly fetchError?: Error | undefined;
}

/** Not handed to the routing service. */
export interface UnlinkedPlatform {
  /**
   * `refused`: the platform offers a key other than the recorded one (`KeyChangedError`);
   * `failed`: no usable answer within the retry policy, a bad entry, or the routing service's
   * handler threw; `skipped`: the entry is this platform itself.
   */
  readonly outcome: 'refused' | 'failed' | 'skipped';
  readonly target: string;
  readonly instanceName?: string | undefined;
  readonly webAddress?: string | undefined;
  readonly attempts: number;
  readonly error: Error;
}

export interface KeyDiscoveryReport {
  readonly mode: 'setup' | 'normal';
  /** One per web address (setup) or file entry (normal), in the order they were listed. */
  readonly results: readonly PlatformResult[];
}

export type DiscoveryState = 'fetching' | 'waiting' | PlatformResult['outcome'];

/** One platform as `vipctl platforms` will show it. */
export interface PlatformDiscoveryStatus {
  readonly target: string;
  readonly instanceName?: string | undefined;
  readonly webAddress?: string | undefined;
  /** `fetching` an answer, `waiting` to try again, or how it ended. */
  readonly state: DiscoveryState;
  /** When the state last changed (epoch ms). */
  readonly since: number;
  readonly attempts: number;
  readonly lastError?: { readonly code: string; readonly message: string } | undefined;
}

/** Counters over the agent's life. */
export interface KeyDiscoveryStats {
  readonly attempts: number;
  readonly discovered: number;
  readonly refused: number;
  readonly failed: number;
  /** known_hosts entries added or replaced. */
  readonly knownHostsRecorded: number;
  /** Attempt failures by error code. */
  readonly failures: Readonly<Record<string, number>>;
}

/** The live view of every platform's discovery, and the counters. */
export class DiscoveryStatusBoard {
  readonly #now: () => number;
  readonly #status = new Map<string, PlatformDiscoveryStatus>();
  #attempts = 0;
  #discovered = 0;
  #refused = 0;
  #failed = 0;
  #knownHostsRecorded = 0;
  readonly #failures: Record<string, number> = {};

  constructor(now: () => number) {
    this.#now = now;
  }

  update(target: string, change: Partial<Omit<PlatformDiscoveryStatus, 'target' | 'since'>>): void {
    const before = this.#status.get(target);
    const state = change.state ?? before?.state ?? 'fetching';
    const since = before !== undefined && before.state === state ? before.since : this.#now();
    this.#status.set(target, { attempts: 0, ...before, ...change, target, state, since });
  }

  attemptFailed(target: string, attempts: number, error: unknown): void {
    const code = errorCode(error);
    this.#failures[code] = (this.#failures[code] ?? 0) + 1;
    this.update(target, { state: 'waiting', attempts, lastError: { code, message: (error as Error)?.message ?? String(error) } });
  }

  attempted(): void {
    this.#attempts++;
  }

  knownHostRecorded(): void {
    this.#knownHostsRecorded++;
  }

  /** Records how a platform ended and returns the result. */
  settle<R extends PlatformResult>(result: R): R {
    if (result.outcome === 'discovered') this.#discovered++;
    else if (result.outcome === 'refused') this.#refused++;
    else if (result.outcome === 'failed') this.#failed++;
    const error = result.outcome === 'discovered' ? result.fetchError : result.error;
    const instanceName = result.outcome === 'discovered' ? result.platform.instanceName : result.instanceName;
    this.update(result.target, {
      state: result.outcome,
      attempts: result.attempts,
      instanceName,
      webAddress: result.webAddress,
      lastError: error === undefined ? undefined : { code: errorCode(error), message: error.message },
    });
    return result;
  }

  list(): PlatformDiscoveryStatus[] {
    return [...this.#status.values()];
  }

  stats(): KeyDiscoveryStats {
    return {
      attempts: this.#attempts,
      discovered: this.#discovered,
      refused: this.#refused,
      failed: this.#failed,
      knownHostsRecorded: this.#knownHostsRecorded,
      failures: { ...this.#failures },
    };
  }
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
}
