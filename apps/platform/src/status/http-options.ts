import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from '@vip/protocol';

/** Where the status page and `/metrics` are served, and the token they require (if any). */
export interface HttpConfig {
  readonly host: string;
  /** 0: a free port (logged at start). */
  readonly port: number;
  /** Required as `Authorization: Bearer <token>` on every data request; always set on a non-loopback bind. */
  readonly token?: string;
}

/** `--http HOST:PORT` (`[::1]:8080` for IPv6). */
export const HttpAddressSchema = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: 'must look like 127.0.0.1:8080 ([::1]:8080 for IPv6)' });

/** Fewer characters than this in a token file is refused: a token is a long random string. */
export const MIN_TOKEN_LENGTH = 16;

/** True for addresses only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && mapped[1]!.startsWith('127.');
}

/**
 * The status server's settings from `--http` and `--http-token-file` (or the config file's keys).
 * A bind to anything but loopback without a token is refused: the page shows who is connected to
 * the bus, which only this machine's users may see unless the operator hands out a token.
 */
export function httpConfig(address: string | undefined, tokenFile: string | undefined): HttpConfig | undefined {
  if (address === undefined) {
    if (tokenFile !== undefined) throw new ConfigError('invalid option: --http-token-file needs --http HOST:PORT');
    return undefined;
  }
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  if (port > 65535) throw new ConfigError('invalid option: --http port must be 0..65535');
  const token = tokenFile === undefined ? undefined : readToken(tokenFile);
  if (token === undefined && !isLoopbackHost(host)) {
    throw new ConfigError(
      `invalid option: --http ${address} is not a loopback address: give --http-token-file FILE (a token of ${MIN_TOKEN_LENGTH} characters or more) or bind 127.0.0.1`,
    );
  }
  return { host, port, ...(token !== undefined ? { token } : {}) };
}

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid option: --http-token-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: err,
    });
  }
  const token = text.split(/\r?\n/)[0]!.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      `invalid option: --http-token-file ${path}: its first line must be a token of ${MIN_TOKEN_LENGTH} characters or more, without spaces`,
    );
  }
  return token;
}
