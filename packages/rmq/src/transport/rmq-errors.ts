import { VipError, type VipErrorCode } from '@vip/protocol';

/** What a broker set-up step found missing; each comes with the fix in the error message. */
export type RmqSetupMissing = 'broker' | 'vhost' | 'permission' | 'plugin' | 'credentials' | 'identity' | 'topology';

/**
 * The broker is not ready for VIP: down, virtual host absent, permissions or plugin missing,
 * identity already taken. `missing` says what; the message says how to fix it.
 */
export class RmqSetupError extends VipError {
  readonly code: VipErrorCode = 'VIP_TRANSPORT';
  readonly missing: RmqSetupMissing;
  readonly fix: string;
  constructor(missing: RmqSetupMissing, problem: string, fix: string, options?: ErrorOptions) {
    super(`${problem}; fix: ${fix}`, options);
    this.name = 'RmqSetupError';
    this.missing = missing;
    this.fix = fix;
  }
}

/** getaddrinfo failures: the host name did not resolve (no broker was asked at all). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL']);

/**
 * A name lookup that failed, said as such: "start the broker" would send the operator the wrong
 * way. EAI_AGAIN is a temporary resolver failure (retry may help), the others an unknown name.
 */
export function unresolvedHost(code: string, target: string, cause: unknown, what = 'the broker host'): RmqSetupError | undefined {
  if (!DNS_CODES.has(code)) return undefined;
  let host = target;
  try {
    host = new URL(target).hostname;
  } catch {
    // keep the whole target in the message
  }
  const temporary = code === 'EAI_AGAIN';
  return new RmqSetupError(
    'broker',
    `cannot resolve ${what} ${JSON.stringify(host)} (DNS lookup failed: ${code}${temporary ? ', a temporary resolver failure' : ', unknown host'})`,
    temporary
      ? 'check the DNS resolver (/etc/resolv.conf) and try again, or use an IP address in the URL'
      : 'check the host name in the URL (a typo?), /etc/hosts and DNS, or use an IP address',
    { cause },
  );
}
