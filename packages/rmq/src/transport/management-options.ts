// The management API options and their URL check: shared by the transport's reads and
// @vip/rmq/admin's client, in a file of their own so that neither imports the other for them.
import { ConfigError } from '@vip/protocol';

export interface ManagementOptions {
  /** Management API base, e.g. `http://127.0.0.1:15672`. */
  readonly baseUrl: string;
  readonly user: string;
  readonly password: string;
  readonly timeoutMs?: number;
}

/** Refuse a management base URL that is not http(s) when the options are given, not at the first request. */
export function checkManagementUrl(baseUrl: string): void {
  const refuse = (cause: unknown): ConfigError =>
    new ConfigError(`RabbitMQ management URL ${JSON.stringify(baseUrl)} is not an http(s) URL`, { cause });
  let protocol: string;
  try {
    protocol = new URL(baseUrl).protocol;
  } catch (err) {
    throw refuse(err);
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw refuse(new TypeError(`not an http(s) URL: ${baseUrl}`));
}
