import { ConfigError } from '@vip/protocol';

/** Where a platform serves `/discovery/` unless told otherwise: loopback only. */
export const DEFAULT_BIND_WEB_ADDRESS = 'http://127.0.0.1:8080';

/** The discovery route (VOLTTRON's pattern `^/discovery/$`). */
export const DISCOVERY_PATH = '/discovery/';

/** A checked web address: `http://host:port`, no path beyond `/`, no query, no credentials. */
export interface WebAddress {
  /** `http://host:port` as given, without a trailing `/` (what external_address.json lists). */
  readonly text: string;
  readonly url: URL;
  /** `http://host:port/discovery/` */
  readonly discoveryUrl: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Parses a web address as VOLTTRON's key discovery accepts it (`urlparse`: a scheme, no path) and
 * as `bind-web-address` is written. Only `http:` for now: the endpoint publishes public keys and
 * addresses only, and the key check (known_hosts) is what protects a link, not the transport.
 * Throws ConfigError naming `what`.
 */
export function parseWebAddress(text: string, what = 'web address'): WebAddress {
  if (typeof text !== 'string' || text.trim() === '') throw new ConfigError(`${what} must be a URL such as http://127.0.0.1:8080`);
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigError(`${what} ${JSON.stringify(text)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol === 'https:') {
    throw new ConfigError(`${what} ${JSON.stringify(text)}: https is not supported by vip's key discovery yet; use http://host:port`);
  }
  if (url.protocol !== 'http:') throw new ConfigError(`${what} ${JSON.stringify(text)} must start with http://`);
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`${what} ${JSON.stringify(text)} must be http://host:port only (no path, query or fragment)`);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError(`${what} ${JSON.stringify(text)} must not carry credentials`);
  const port = url.port === '' ? 80 : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { text: url.origin, url, discoveryUrl: `${url.origin}${DISCOVERY_PATH}`, host, port };
}
