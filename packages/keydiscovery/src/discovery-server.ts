import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TransportError, silentLogger, type Logger } from '@vip/protocol';
import { checkPublishedInfo, discoveryResponseText, type DiscoveryInfo } from './discovery-info.js';
import { DEFAULT_BIND_WEB_ADDRESS, DISCOVERY_PATH, parseWebAddress } from './web-address.js';

/** What the endpoint accepts from a client before it gives up on it. */
export interface DiscoveryServerLimits {
  /** Time for a client to send its request headers (slow clients are cut off). */
  readonly headersTimeoutMs: number;
  /** Time for the whole request, body included. */
  readonly requestTimeoutMs: number;
  /** Request header bytes (node answers 431 beyond). */
  readonly maxHeaderBytes: number;
  /** Request body bytes: a GET has none; a client sending more gets 413. */
  readonly maxBodyBytes: number;
  /** Open connections at once; more are refused by the kernel's backlog, then dropped. */
  readonly maxConnections: number;
}

export const DEFAULT_DISCOVERY_SERVER_LIMITS: DiscoveryServerLimits = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  maxBodyBytes: 1_024,
  maxConnections: 64,
});

export interface DiscoveryServerOptions {
  /**
   * `http://host:port` to listen on, VOLTTRON's `bind-web-address`; default
   * `http://127.0.0.1:8080` (loopback). Port 0 picks a free port (`DiscoveryServer.url` says which).
   */
  readonly bindWebAddress?: string;
  /**
   * The values to publish: an object, or a function asked on every request (so that addresses
   * bound after the server started, or a renewed key, are what clients see).
   */
  readonly info: DiscoveryInfo | (() => DiscoveryInfo);
  readonly limits?: Partial<DiscoveryServerLimits>;
  readonly logger?: Logger;
}

export interface DiscoveryServerStats {
  /** Requests answered, by HTTP status. */
  readonly responses: Readonly<Record<string, number>>;
  /** Connections dropped before a request was parsed: malformed HTTP, oversized headers, too slow. */
  readonly clientErrors: Readonly<Record<string, number>>;
}

export interface DiscoveryServer extends AsyncDisposable {
  /** `http://host:port` actually listened on. */
  readonly url: string;
  /** `<url>/discovery/` */
  readonly discoveryUrl: string;
  readonly port: number;
  stats(): DiscoveryServerStats;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

/** The JSON body of an error answer: `{"error": "..."}`. */
function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/**
 * Serves VOLTTRON's `GET /discovery/` (docs/protocol.md 6.1) on `bindWebAddress` with node:http:
 * the platform's instance name, VIP address and server key (and RMQ fields on RMQ platforms) as
 * VOLTTRON writes them. Only `GET` and `HEAD` of `/discovery/` are answered 200; other paths 404,
 * other methods 405, a request body over the limit 413, and malformed or slow requests are cut
 * off (400, 408, 431). A failing `info` function answers 503. Nothing a client sends can throw
 * out of the server. Resolves once listening; rejects with TransportError when the address cannot
 * be bound, ConfigError for a bad address or bad static values.
 */
export async function serveDiscovery(options: DiscoveryServerOptions): Promise<DiscoveryServer> {
  const bind = parseWebAddress(options.bindWebAddress ?? DEFAULT_BIND_WEB_ADDRESS, 'bind-web-address');
  const limits: DiscoveryServerLimits = { ...DEFAULT_DISCOVERY_SERVER_LIMITS, ...options.limits };
  const logger = options.logger ?? silentLogger;
  const infoSource = options.info;
  // Static values are checked now, so a typo stops the platform at start instead of failing each request.
  const staticInfo = typeof infoSource === 'function' ? undefined : checkPublishedInfo(infoSource);
  const responses: Record<string, number> = {};
  const clientErrors: Record<string, number> = {};
  let infoFailures = 0;

  const currentBody = (): string | undefined => {
    try {
      return discoveryResponseText(staticInfo ?? checkPublishedInfo((infoSource as () => DiscoveryInfo)()));
    } catch (err) {
      // Once, then every 100th: a broken info source must not flood the log at each request.
      if (infoFailures++ % 100 === 0) logger.error('keydiscovery.server.info_failed', { failures: infoFailures }, err);
      return undefined;
    }
  };

  const answer = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    responses[status] = (responses[status] ?? 0) + 1;
    res.shouldKeepAlive = false;
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== DISCOVERY_PATH) {
      answer(res, 404, errorBody(`not found: this server answers GET ${DISCOVERY_PATH} only`));
      req.resume();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, errorBody(`method ${req.method ?? ''} not allowed: GET or HEAD`), { allow: 'GET, HEAD' });
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared <= limits.maxBodyBytes)) {
      answer(res, 413, errorBody(`request body over ${limits.maxBodyBytes} bytes`));
      req.destroy();
      return;
    }
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBodyBytes && !res.headersSent) {
        answer(res, 413, errorBody(`request body over ${limits.maxBodyBytes} bytes`));
        req.destroy();
      }
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const body = currentBody();
      if (body === undefined) answer(res, 503, errorBody('discovery information is not available; see the platform log'));
      else answer(res, 200, body);
    });
    req.on('error', () => undefined); // a client vanishing mid-request: nothing to answer
  };

  const server: Server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // node checks both timeouts on this period (default 30 s): check often enough to honour them.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    handle,
  );
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = 1;
  // A connection that goes quiet (no request at all, or a stalled body) is dropped.
  server.setTimeout(limits.requestTimeoutMs, (socket: Socket) => {
    clientErrors.idle = (clientErrors.idle ?? 0) + 1;
    socket.destroy();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? 'unknown';
    clientErrors[code] = (clientErrors[code] ?? 0) + 1;
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new TransportError(`bind ${bind.text} for ${DISCOVERY_PATH} failed: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('keydiscovery.server.error', {}, err));

  const { port } = server.address() as AddressInfo;
  const host = bind.host.includes(':') ? `[${bind.host}]` : bind.host;
  const url = `http://${host}:${port}`;
  logger.info('keydiscovery.server.listening', { url: `${url}${DISCOVERY_PATH}` });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  return {
    url,
    discoveryUrl: `${url}${DISCOVERY_PATH}`,
    port,
    stats: () => ({ responses: { ...responses }, clientErrors: { ...clientErrors } }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
