import { TimeoutError, VipError } from '@vip/protocol';

/**
 * What can go wrong when one platform's `/discovery/` is fetched. Every class carries the web
 * address it concerns and says whether another attempt may help (`retryable`): an endpoint that
 * is down, slow or answering garbage may recover; a changed key or an answer naming this very
 * platform will not, and is never retried.
 */

/** No TCP connection to the web address (refused, no route, name not found). */
export class DiscoveryUnreachableError extends VipError {
  readonly code = 'VIP_DISCOVERY_UNREACHABLE';
  readonly retryable = true;
  readonly url: string;
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(`discovery endpoint ${url} is unreachable: ${detail}`, options);
    this.name = 'DiscoveryUnreachableError';
    this.url = url;
  }
}

/** Why an endpoint's answer was refused (`DiscoveryResponseError.reason`). */
export type DiscoveryResponseProblem =
  /** HTTP status other than 200 (redirects are not followed). */
  | 'status'
  /** Not HTTP, or HTTP the client could not parse; or the connection closed before a full answer. */
  | 'http'
  /** Body larger than the client's bound. */
  | 'too-large'
  /** Body not UTF-8 JSON. */
  | 'json'
  /** JSON, but not discovery information a link can be made from (missing or malformed keys). */
  | 'schema'
  /** The answer names this platform itself (its own web address listed, under another spelling). */
  | 'own-instance'
  /** Normal mode: the web address of a recorded platform now answers with another instance name. */
  | 'instance-mismatch';

const NOT_RETRIED: ReadonlySet<DiscoveryResponseProblem> = new Set(['own-instance', 'instance-mismatch']);

/** The endpoint answered, but not with discovery information this platform can use. */
export class DiscoveryResponseError extends VipError {
  readonly code = 'VIP_DISCOVERY_RESPONSE';
  readonly url: string;
  readonly reason: DiscoveryResponseProblem;
  /** The HTTP status, when one was received. */
  readonly status: number | undefined;
  readonly retryable: boolean;
  constructor(url: string, reason: DiscoveryResponseProblem, detail: string, options?: ErrorOptions & { status?: number }) {
    super(`discovery endpoint ${url} gave an unusable answer (${reason}): ${detail}`, options);
    this.name = 'DiscoveryResponseError';
    this.url = url;
    this.reason = reason;
    this.status = options?.status;
    this.retryable = !NOT_RETRIED.has(reason);
  }
}

/** No complete answer within the per-attempt time limit (code `VIP_TIMEOUT`, as every timeout). */
export class DiscoveryTimeoutError extends TimeoutError {
  readonly retryable = true;
  readonly url: string;
  constructor(url: string, timeoutMs: number, options?: ErrorOptions) {
    super(`GET ${url}`, timeoutMs, options);
    this.name = 'DiscoveryTimeoutError';
    this.url = url;
  }
}

/** Where the key a platform now offers disagreed with the one recorded. */
export type PinnedKeySource = 'known_hosts' | 'external_platform_discovery.json';

/**
 * A platform offers a server key other than the one recorded for it (in known_hosts under its VIP
 * address, or in external_platform_discovery.json under its instance name). Refused unless the
 * operator named that instance in `acceptChangedKeys`: discovery runs over plain HTTP, so a new
 * key there is exactly what a man in the middle would send.
 */
export class KeyChangedError extends VipError {
  readonly code = 'VIP_KEY_CHANGED';
  readonly retryable = false;
  readonly instanceName: string;
  readonly vipAddress: string;
  readonly recordedKey: string;
  readonly offeredKey: string;
  readonly recordedIn: PinnedKeySource;
  readonly url: string | undefined;
  constructor(fields: {
    instanceName: string;
    vipAddress: string;
    recordedKey: string;
    offeredKey: string;
    recordedIn: PinnedKeySource;
    url?: string | undefined;
  }) {
    super(
      `platform ${JSON.stringify(fields.instanceName)} (${fields.vipAddress}) offers server key ${fields.offeredKey}, ` +
        `but ${fields.recordedIn} records ${fields.recordedKey}; refused. If the platform was re-keyed on purpose, ` +
        `accept the new key for that instance (acceptChangedKeys: [${JSON.stringify(fields.instanceName)}])`,
    );
    this.name = 'KeyChangedError';
    this.instanceName = fields.instanceName;
    this.vipAddress = fields.vipAddress;
    this.recordedKey = fields.recordedKey;
    this.offeredKey = fields.offeredKey;
    this.recordedIn = fields.recordedIn;
    this.url = fields.url;
  }
}

/** Every failure one discovery attempt ends with. */
export type DiscoveryFailure = DiscoveryUnreachableError | DiscoveryResponseError | DiscoveryTimeoutError;

/** True for the errors `fetchDiscovery` rejects with. */
export function isDiscoveryFailure(err: unknown): err is DiscoveryFailure {
  return err instanceof DiscoveryUnreachableError || err instanceof DiscoveryResponseError || err instanceof DiscoveryTimeoutError;
}
