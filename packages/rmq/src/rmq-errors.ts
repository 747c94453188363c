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
