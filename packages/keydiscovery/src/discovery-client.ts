import { request } from 'node:http';
import { ClosedError } from '@vip/protocol';
import { describeIssues } from '@vip/auth';
import { DiscoveryResponseError, DiscoveryTimeoutError, DiscoveryUnreachableError } from './errors.js';
import { DiscoveryResponseSchema, fromDiscoveryResponse, type DiscoveryInfo, type DiscoveryResponse } from './discovery-info.js';
import { DISCOVERY_PATH, parseWebAddress, type WebAddress } from './web-address.js';

export interface FetchDiscoveryOptions {
  /** Time for the whole exchange: connect, headers, body. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** Largest body accepted; a larger one is refused (`too-large`) without reading on. Default 64 KiB. */
  readonly maxResponseBytes?: number;
  /** Aborting rejects with ClosedError (`VIP_CLOSED`) and drops the connection. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
/** Room for an RMQ platform's CA certificate (a few KiB of PEM) many times over. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
/** Response header bytes accepted (node's parser refuses more: an `http` problem). */
const MAX_HEADER_BYTES = 16 * 1024;

/** What one platform's endpoint answered: the validated wire object and its typed reading. */
export interface DiscoveryAnswer {
  readonly info: DiscoveryInfo;
  /** The JSON object as received (unknown keys kept), what external_platform_discovery.json stores. */
  readonly response: DiscoveryResponse;
}

/** Error codes of a connection that never opened. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
]);

/**
 * One `GET <web address>/discovery/` (no retry: `withRetry` adds that), bounded in time and bytes.
 * Resolves with the validated answer; rejects with DiscoveryUnreachableError, DiscoveryTimeoutError
 * or DiscoveryResponseError (status, http, too-large, json, schema), ClosedError when aborted.
 * Redirects are not followed. The web address itself is checked first (ConfigError).
 */
export async function fetchDiscovery(webAddress: string | WebAddress, options: FetchDiscoveryOptions = {}): Promise<DiscoveryAnswer> {
  const target = typeof webAddress === 'string' ? parseWebAddress(webAddress) : webAddress;
  const body = await getBody(target, {
    timeoutMs: options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    signal: options.signal,
  });
  const url = target.discoveryUrl;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (err) {
    throw new DiscoveryResponseError(url, 'json', 'the body is not UTF-8 text', { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DiscoveryResponseError(url, 'json', `the body is not JSON (${(err as Error).message}): ${preview(text)}`, { cause: err });
  }
  const parsed = DiscoveryResponseSchema.safeParse(raw);
  if (!parsed.success) throw new DiscoveryResponseError(url, 'schema', describeIssues(parsed.error));
  return { info: fromDiscoveryResponse(parsed.data), response: parsed.data };
}

function preview(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return JSON.stringify(shown);
}

interface GetLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly signal: AbortSignal | undefined;
}

function getBody(target: WebAddress, limits: GetLimits): Promise<Buffer> {
  const url = target.discoveryUrl;
  const { signal } = limits;
  if (signal?.aborted) return Promise.reject(new ClosedError(`discovery fetch of ${url}`, { cause: signal.reason }));
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let connected = false;
    const req = request({
      host: target.host,
      port: target.port,
      path: DISCOVERY_PATH,
      method: 'GET',
      agent: false, // one connection per attempt, closed after it: nothing pooled to leak
      maxHeaderSize: MAX_HEADER_BYTES,
      headers: { host: target.url.host, accept: 'application/json', connection: 'close' },
    });
    const finish = (err: Error | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      if (err) reject(err);
      else resolve(body as Buffer);
    };
    const timer = setTimeout(() => finish(new DiscoveryTimeoutError(url, limits.timeoutMs)), limits.timeoutMs);
    const onAbort = (): void => finish(new ClosedError(`discovery fetch of ${url}`, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });

    req.on('socket', (socket) => {
      socket.once('connect', () => {
        connected = true;
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(classify(url, err, connected)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const location = res.headers.location ? ` (redirect to ${res.headers.location}, not followed)` : '';
        finish(new DiscoveryResponseError(url, 'status', `HTTP ${status} ${res.statusMessage ?? ''}`.trim() + location, { status }));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        const detail = `Content-Length ${declared} is over the ${limits.maxBytes}-byte limit`;
        finish(new DiscoveryResponseError(url, 'too-large', detail, { status }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) {
          finish(new DiscoveryResponseError(url, 'too-large', `the body passed the ${limits.maxBytes}-byte limit`, { status }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, Buffer.concat(chunks, size)));
      const brokeOff = (detail: string, cause?: Error): void => finish(new DiscoveryResponseError(url, 'http', detail, { cause, status }));
      res.on('error', (err) => brokeOff(`the answer broke off: ${err.message}`, err));
      res.on('close', () => {
        if (!res.complete) brokeOff('the connection closed before the end of the answer');
      });
    });
    req.end();
  });
}

function classify(url: string, err: NodeJS.ErrnoException, connected: boolean): Error {
  const code = err.code ?? '';
  if (!connected && UNREACHABLE_CODES.has(code)) return new DiscoveryUnreachableError(url, `${code}: ${err.message}`, { cause: err });
  if (code.startsWith('HPE_')) {
    return new DiscoveryResponseError(url, 'http', `not an HTTP answer (${code}: ${err.message})`, { cause: err });
  }
  if (connected) {
    return new DiscoveryResponseError(url, 'http', `the connection closed without an answer (${code || err.message})`, { cause: err });
  }
  return new DiscoveryUnreachableError(url, code ? `${code}: ${err.message}` : err.message, { cause: err });
}
