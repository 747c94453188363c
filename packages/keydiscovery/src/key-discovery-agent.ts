import { ClosedError, ConfigError, silentLogger, type Logger } from '@vip/protocol';
import { KnownHosts } from '@vip/auth';
import { fetchDiscovery } from './discovery-client.js';
import {
  keyDiscoveryPaths,
  PlatformDiscoveryFile,
  readExternalAddresses,
  type KeyDiscoveryPaths,
  type StoredPlatform,
} from './discovery-files.js';
import { linkableDiscovery, type DiscoveryResponse, type PlatformDiscovery } from './discovery-info.js';
import {
  DiscoveryStatusBoard,
  type DiscoveredPlatform,
  type KeyDiscoveryReport,
  type KeyDiscoveryStats,
  type PlatformDiscoveryStatus,
  type PlatformResult,
  type UnlinkedPlatform,
} from './discovery-status.js';
import { DiscoveryResponseError, KeyChangedError } from './errors.js';
import { checkPinnedKey, recordKnownHost, type AcceptedKeyChange } from './key-pinning.js';
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from './retry.js';
import { parseWebAddress, type WebAddress } from './web-address.js';

/** A platform found in setup mode, with the web address it answered on. */
export interface SetupModePlatform extends PlatformDiscovery {
  readonly webAddress: string;
}

/**
 * What the routing service implements: the three `routing_table` operations VOLTTRON's
 * KeyDiscoveryAgent sends its router (docs/protocol.md 6.2), as calls. A handler that throws
 * marks that platform `failed` in the report; it never stops the others.
 */
export interface RoutingTableHandlers {
  /** `web-addresses`: setup mode is about to fetch these (this platform's own address removed). */
  webAddresses(addresses: readonly string[]): void | Promise<void>;
  /** `setupmode_platform_connection`: a platform found in setup mode, its key recorded. */
  setupModeConnection(platform: SetupModePlatform): void | Promise<void>;
  /** `normalmode_platform_connection`: link to this platform (its key checked against known_hosts). */
  normalModeConnection(platform: PlatformDiscovery): void | Promise<void>;
}

export type KeyDiscoveryMode = 'setup' | 'normal';

export interface KeyDiscoveryAgentOptions {
  readonly vipHome: string;
  /** This platform's instance name: an answer or entry naming it is skipped, never linked. */
  readonly instanceName: string;
  /** `setup`: fetch the platforms of external_address.json and record them; `normal`: link the recorded ones. */
  readonly mode: KeyDiscoveryMode;
  /** This platform's `bind-web-address`; setup mode needs it (VOLTTRON refuses setup mode without one). */
  readonly bindWebAddress?: string | undefined;
  readonly routing: RoutingTableHandlers;
  /**
   * Instance names whose changed server key the operator accepts (platform flag
   * `--accept-changed-key NAME`, repeatable). Any other changed key is refused (`KeyChangedError`).
   */
  readonly acceptChangedKeys?: readonly string[] | undefined;
  readonly retry?: Partial<RetryPolicy> | undefined;
  /** Per attempt: time limit and largest answer (`fetchDiscovery`). */
  readonly fetch?: { readonly timeoutMs?: number; readonly maxResponseBytes?: number } | undefined;
  /** Platforms fetched at once (default 8). */
  readonly concurrency?: number | undefined;
  readonly knownHosts?: KnownHosts | undefined;
  readonly paths?: Partial<KeyDiscoveryPaths> | undefined;
  readonly logger?: Logger | undefined;
  readonly random?: (() => number) | undefined;
  readonly now?: (() => number) | undefined;
}

/** A fetched answer that a link can be made from. */
interface Fetched {
  readonly platform: PlatformDiscovery;
  /** The answer as received, what the discovery file stores. */
  readonly response: DiscoveryResponse;
  readonly attempts: number;
}

/** No usable answer within the retry policy. */
interface Unfetched {
  readonly error: Error;
  readonly attempts: number;
}

/**
 * VOLTTRON's KeyDiscoveryAgent, in the platform's process (no bus connection of its own): the
 * platform constructs it with its home and the routing service's handlers and calls `run()`.
 *
 * - Setup mode: reads `external_address.json`, drops this platform's own web address, tells the
 *   routing service the list (`webAddresses`), fetches each platform's `/discovery/`, checks its
 *   key against known_hosts and the discovery file, records it (known_hosts under its VIP address,
 *   `external_platform_discovery.json` under its instance name with the web address) and hands it
 *   to `setupModeConnection`.
 * - Normal mode: for each entry of `external_platform_discovery.json`, asks its recorded web
 *   address again (when there is one) and checks that the key did not change; an entry without a
 *   web address, or whose endpoint does not answer, is used as recorded, its key checked against
 *   known_hosts. Each is handed to `normalModeConnection`.
 *
 * Differences from VOLTTRON, on purpose: bounded retries with jitter instead of forever; a
 * changed key refused unless accepted; setup mode updates the discovery file instead of emptying
 * it first (a platform unreachable during one setup keeps its entry).
 */
export class KeyDiscoveryAgent {
  readonly mode: KeyDiscoveryMode;
  readonly #options: KeyDiscoveryAgentOptions;
  readonly #paths: KeyDiscoveryPaths;
  readonly #knownHosts: KnownHosts;
  readonly #file: PlatformDiscoveryFile;
  readonly #policy: RetryPolicy;
  readonly #accept: ReadonlySet<string>;
  readonly #logger: Logger;
  readonly #board: DiscoveryStatusBoard;
  readonly #abort = new AbortController();
  #run?: Promise<KeyDiscoveryReport>;
  #closed?: Promise<void>;

  constructor(options: KeyDiscoveryAgentOptions) {
    if (options.mode !== 'setup' && options.mode !== 'normal') {
      throw new ConfigError(`key discovery mode must be setup or normal (got ${String(options.mode)})`);
    }
    this.mode = options.mode;
    this.#options = options;
    this.#paths = { ...keyDiscoveryPaths(options.vipHome), ...options.paths };
    this.#knownHosts = options.knownHosts ?? KnownHosts.forHome(options.vipHome);
    this.#file = new PlatformDiscoveryFile(this.#paths.platformDiscovery);
    this.#policy = checkRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.#accept = new Set(options.acceptChangedKeys ?? []);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'keydiscovery' });
    this.#board = new DiscoveryStatusBoard(options.now ?? Date.now);
  }

  /**
   * Discovers every listed platform once; resolves when each has been handed over or given up
   * (the report says which and why). Rejects only when the mode cannot start: ConfigError for a
   * missing or unreadable file or setup mode without a web address, ClosedError when `close()`
   * came first. Calling it again returns the same run.
   */
  run(): Promise<KeyDiscoveryReport> {
    if (this.#run) return this.#run;
    if (this.#abort.signal.aborted) return Promise.reject(new ClosedError('key discovery'));
    return (this.#run = this.mode === 'setup' ? this.#runSetup() : this.#runNormal());
  }

  /** Every platform's state now (for `vipctl platforms`). */
  status(): PlatformDiscoveryStatus[] {
    return this.#board.list();
  }

  stats(): KeyDiscoveryStats {
    return this.#board.stats();
  }

  /** Stops waiting and fetching: platforms not settled yet end `failed` with ClosedError. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#abort.abort(new ClosedError('key discovery'));
      await this.#run?.catch(() => undefined);
    })());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- setup mode ---

  async #runSetup(): Promise<KeyDiscoveryReport> {
    if (this.#options.bindWebAddress === undefined) {
      throw new ConfigError(
        "key discovery setup mode needs this platform's bind-web-address " + '(the other platforms fetch its /discovery/ there)',
      );
    }
    const own = parseWebAddress(this.#options.bindWebAddress, 'bind-web-address');
    const listed = await readExternalAddresses(this.#paths.externalAddresses);
    if (listed === undefined) {
      throw new ConfigError(
        `key discovery setup mode reads ${this.#paths.externalAddresses}, which does not exist: ` +
          'list the other platforms\' web addresses there, e.g. ["http://10.0.0.2:8080"]',
      );
    }
    const targets: Array<WebAddress | UnlinkedPlatform> = [];
    const seen = new Set<string>([own.text]);
    for (const text of listed) {
      try {
        const address = parseWebAddress(text, `web address in ${this.#paths.externalAddresses}`);
        if (seen.has(address.text)) continue; // this platform itself, or listed twice
        seen.add(address.text);
        targets.push(address);
      } catch (err) {
        targets.push(this.#board.settle({ outcome: 'failed', target: String(text), attempts: 0, error: err as Error }));
      }
    }
    const addresses = targets.filter((t): t is WebAddress => 'discoveryUrl' in t);
    // Keys recorded before this run, by instance name (an unreadable file stops setup mode here).
    const recordedKeys = new Map<string, string>();
    for (const e of await this.#file.entries()) if (e.ok) recordedKeys.set(e.entry['instance-name'] ?? e.key, e.entry.serverkey);
    this.#logger.info('keydiscovery.start', { mode: 'setup', platforms: addresses.length });
    try {
      await this.#options.routing.webAddresses(addresses.map((a) => a.text));
    } catch (err) {
      this.#logger.error('keydiscovery.routing.failed', { op: 'web-addresses' }, err);
    }
    const results = await this.#forEach(targets, (t) => ('discoveryUrl' in t ? this.#setupOne(t, recordedKeys) : Promise.resolve(t)));
    return { mode: 'setup', results };
  }

  async #setupOne(address: WebAddress, recordedKeys: ReadonlyMap<string, string>): Promise<PlatformResult> {
    const target = address.text;
    const fetched = await this.#fetchLinkable(address, undefined);
    if ('error' in fetched) return this.#unfetched(target, address, undefined, fetched);
    const { platform, response, attempts } = fetched;
    const storedKey = recordedKeys.get(platform.instanceName);
    return this.#handOver({ target, platform, attempts, webAddress: target, storedKey }, async (keyChanged) => {
      await this.#file.set(platform.instanceName, { ...response, 'web-address': target } as StoredPlatform);
      await this.#options.routing.setupModeConnection({ ...platform, webAddress: target });
      return { outcome: 'discovered', target, platform, webAddress: target, source: 'discovery', attempts, keyChanged };
    });
  }

  // --- normal mode ---

  async #runNormal(): Promise<KeyDiscoveryReport> {
    const entries = await this.#file.entries();
    this.#logger.info('keydiscovery.start', { mode: 'normal', platforms: entries.length });
    const results = await this.#forEach(entries, async (stored): Promise<PlatformResult> => {
      if (!stored.ok) return this.#board.settle({ outcome: 'failed', target: stored.key, attempts: 0, error: stored.problem });
      return this.#normalOne(stored.key, stored.entry);
    });
    return { mode: 'normal', results };
  }

  async #normalOne(key: string, entry: StoredPlatform): Promise<PlatformResult> {
    const name = entry['instance-name'] ?? key;
    const recorded = linkableDiscovery({ instanceName: name, vipAddress: entry['vip-address'], serverKey: entry.serverkey });
    if (typeof recorded === 'string') {
      const error = new ConfigError(`platform discovery file ${this.#paths.platformDiscovery}, entry ${JSON.stringify(key)}: ${recorded}`);
      return this.#board.settle({ outcome: 'failed', target: key, instanceName: name, attempts: 0, error });
    }
    if (name === this.#options.instanceName) return this.#skipOwn(key, undefined, 0);
    let webAddress: WebAddress | undefined;
    let fetchError: Error | undefined;
    let attempts = 0;
    try {
      const recordedWeb = entry['web-address'];
      if (recordedWeb !== undefined) webAddress = parseWebAddress(recordedWeb, `web-address of entry ${JSON.stringify(key)}`);
    } catch (err) {
      fetchError = err as Error;
    }
    if (webAddress !== undefined) {
      const fetched = await this.#fetchLinkable(webAddress, name, key);
      if (!('error' in fetched)) {
        const { platform, response } = fetched;
        const web = webAddress.text;
        const { attempts: made } = fetched;
        const step = { target: key, platform, attempts: made, webAddress: web, storedKey: entry.serverkey };
        return this.#handOver(step, async (keyChanged) => {
          if (keyChanged !== undefined || platform.vipAddress !== recorded.vipAddress) {
            await this.#file.set(key, { ...response, 'web-address': web } as StoredPlatform);
          }
          await this.#options.routing.normalModeConnection(platform);
          return { outcome: 'discovered', target: key, platform, webAddress: web, source: 'discovery', attempts: made, keyChanged };
        });
      }
      if (fetched.error instanceof ClosedError) return this.#unfetched(key, webAddress, name, fetched);
      ({ error: fetchError, attempts } = fetched);
      this.#logger.warn('keydiscovery.platform.unconfirmed', { instance: name, url: webAddress.discoveryUrl, attempts }, fetchError);
    }
    // As recorded (VOLTTRON's normal mode), its key still held to known_hosts.
    const web = webAddress?.text;
    return this.#handOver({ target: key, platform: recorded, attempts, webAddress: web, storedKey: undefined }, async (keyChanged) => {
      await this.#options.routing.normalModeConnection(recorded);
      return { outcome: 'discovered', target: key, platform: recorded, webAddress: web, source: 'file', attempts, keyChanged, fetchError };
    });
  }

  // --- shared steps ---

  /**
   * Fetches with the retry policy until an answer a link can be made from arrives: valid JSON, a
   * tcp VIP address and a key, not this platform, and in normal mode the expected instance name.
   * Settles nothing: the caller decides what a failure means.
   */
  async #fetchLinkable(address: WebAddress, expectedName: string | undefined, target = address.text): Promise<Fetched | Unfetched> {
    const url = address.discoveryUrl;
    this.#board.update(target, { state: 'fetching', webAddress: address.text, instanceName: expectedName });
    const outcome = await withRetry(
      async (n): Promise<Fetched> => {
        this.#board.attempted();
        this.#board.update(target, { state: 'fetching', attempts: n });
        const answer = await fetchDiscovery(address, { ...this.#options.fetch, signal: this.#abort.signal });
        const platform = linkableDiscovery(answer.info);
        if (typeof platform === 'string') throw new DiscoveryResponseError(url, 'schema', platform);
        if (platform.instanceName === this.#options.instanceName) {
          throw new DiscoveryResponseError(url, 'own-instance', `it is this platform (${platform.instanceName})`);
        }
        if (expectedName !== undefined && platform.instanceName !== expectedName) {
          const detail = `recorded as ${JSON.stringify(expectedName)}, it now answers ${JSON.stringify(platform.instanceName)}`;
          throw new DiscoveryResponseError(url, 'instance-mismatch', detail);
        }
        return { platform, response: answer.response, attempts: n };
      },
      this.#policy,
      {
        signal: this.#abort.signal,
        random: this.#options.random,
        onRetry: (n, err, delayMs) => {
          this.#board.attemptFailed(target, n, err);
          this.#logger.debug('keydiscovery.attempt.failed', { url, attempt: n, retryInMs: Math.round(delayMs) }, err);
        },
      },
    );
    if (outcome.value !== undefined) return outcome.value;
    const error = outcome.error as Error;
    if (!(error instanceof ClosedError)) this.#board.attemptFailed(target, outcome.attempts, error);
    return { error, attempts: outcome.attempts };
  }

  /** A platform whose endpoint gave nothing usable: failed, or skipped when it is this platform. */
  #unfetched(target: string, address: WebAddress, instanceName: string | undefined, fetched: Unfetched): UnlinkedPlatform {
    const { error, attempts } = fetched;
    if (error instanceof DiscoveryResponseError && error.reason === 'own-instance') return this.#skipOwn(target, address.text, attempts);
    this.#logger.warn('keydiscovery.platform.failed', { url: address.discoveryUrl, attempts }, error);
    return this.#board.settle({ outcome: 'failed', target, instanceName, webAddress: address.text, attempts, error });
  }

  /**
   * The key check and the hand-over: a key that differs from the recorded one is refused unless
   * accepted; otherwise known_hosts records it and `deliver` stores and hands it over.
   */
  async #handOver(
    step: { target: string; platform: PlatformDiscovery; attempts: number; webAddress: string | undefined; storedKey: string | undefined },
    deliver: (keyChanged: AcceptedKeyChange | undefined) => Promise<DiscoveredPlatform>,
  ): Promise<PlatformResult> {
    const { target, platform, attempts, webAddress } = step;
    const logged = { instance: platform.instanceName, vipAddress: platform.vipAddress };
    const unlinked = (outcome: 'refused' | 'failed', error: Error): UnlinkedPlatform =>
      this.#board.settle({ outcome, target, instanceName: platform.instanceName, webAddress, attempts, error });
    let keyChanged: AcceptedKeyChange | undefined;
    try {
      keyChanged = await checkPinnedKey(this.#knownHosts, {
        offered: platform,
        storedKey: step.storedKey,
        url: webAddress,
        acceptChange: this.#accept.has(platform.instanceName),
      });
    } catch (err) {
      if (!(err instanceof KeyChangedError)) {
        // known_hosts unreadable: nothing to check the key against, so nothing is handed over
        this.#logger.error('keydiscovery.known_hosts.failed', logged, err);
        return unlinked('failed', err as Error);
      }
      this.#logger.error('keydiscovery.key.refused', { ...logged, recordedIn: err.recordedIn });
      return unlinked('refused', err);
    }
    if (keyChanged !== undefined) {
      this.#logger.warn('keydiscovery.key.accepted', { ...logged, recordedIn: keyChanged.recordedIn });
    }
    try {
      if (await recordKnownHost(this.#knownHosts, platform)) this.#board.knownHostRecorded();
      const result = await deliver(keyChanged);
      this.#logger.info('keydiscovery.platform.discovered', { ...logged, source: result.source });
      return this.#board.settle(result);
    } catch (err) {
      this.#logger.error('keydiscovery.platform.handover_failed', { instance: platform.instanceName }, err);
      return unlinked('failed', err as Error);
    }
  }

  #skipOwn(target: string, webAddress: string | undefined, attempts: number): UnlinkedPlatform {
    const error = new ConfigError(`${target} is this platform (${this.#options.instanceName}); skipped`);
    this.#logger.info('keydiscovery.platform.skipped', { target, reason: 'own instance' });
    return this.#board.settle({ outcome: 'skipped', target, instanceName: this.#options.instanceName, webAddress, attempts, error });
  }

  /** `work` over `items` with at most `concurrency` at once; results in the items' order. */
  async #forEach<T>(items: readonly T[], work: (item: T) => Promise<PlatformResult>): Promise<PlatformResult[]> {
    const results = new Array<PlatformResult>(items.length);
    let next = 0;
    const lanes = Math.max(1, Math.min(this.#options.concurrency ?? 8, items.length));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < items.length) {
          const i = next++;
          results[i] = await work(items[i] as T);
        }
      }),
    );
    return results;
  }
}
