import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { TransportError, type Logger } from '@vip/protocol';
import type { Registry } from 'prom-client';
import { isLoopbackHost, type HttpConfig } from './http-options.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import type { StatusBoard } from './status-board.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './status-page.js';

/** Live-feed clients served at once; one more is answered 503. */
export const MAX_SSE_CLIENTS = 8;
/** Bytes a live-feed client may leave unread before its next events are skipped (a stalled browser). */
export const MAX_SSE_BACKLOG_BYTES = 1024 * 1024;

export interface StatusServerOptions {
  readonly http: HttpConfig;
  readonly board: StatusBoard;
  readonly metrics: Registry;
  readonly logger: Logger;
  readonly maxClients?: number;
}

export interface StatusServer {
  /** `http://host:port/` as bound. */
  readonly url: string;
  readonly stats: () => { clients: number; refused: number; unauthorized: number; skipped: number };
  close(): Promise<void>;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** uPlot from its npm package (resolved from the platform's install; no CDN: the browser may have no internet). */
function uplotAssets(): Record<string, Asset> {
  const require = createRequire(import.meta.url);
  const file = (name: string) => readFileSync(require.resolve(`uplot/dist/${name}`));
  return {
    '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: file('uPlot.iife.min.js') },
    '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', body: file('uPlot.min.css') },
  };
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/**
 * The status server: the page and its assets (`/`, `/assets/...`), the board as JSON
 * (`/status.json`), its live feed (`/events`, server-sent events, one snapshot per sample) and
 * `/metrics` (Prometheus text). With a token every data route requires `Authorization: Bearer`;
 * without one (loopback only) a request whose Host is not a loopback name is refused, so a web
 * page elsewhere cannot read the board through DNS rebinding. Only GET and HEAD.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const { http, board, logger } = options;
  const maxClients = options.maxClients ?? MAX_SSE_CLIENTS;
  const assets: Record<string, Asset> = {
    '/': { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE_HTML) },
    '/assets/status.css': { type: 'text/css; charset=utf-8', body: Buffer.from(PAGE_CSS) },
    '/assets/status.js': { type: 'text/javascript; charset=utf-8', body: Buffer.from(PAGE_JS) },
    ...uplotAssets(),
  };
  const clients = new Set<ServerResponse>();
  const counts = { refused: 0, unauthorized: 0, skipped: 0 };
  const expected = http.token === undefined ? undefined : Buffer.from(`Bearer ${http.token}`);

  const authorized = (req: IncomingMessage): boolean => {
    if (expected === undefined) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hostAllowed = (req: IncomingMessage): boolean => {
    if (http.token !== undefined) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return isLoopbackHost(host);
  };
  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://status').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (!hostAllowed(req)) return send(res, 421, 'text/plain', 'unexpected Host header\n');
    const asset = assets[path];
    if (asset) return send(res, 200, asset.type, asset.body);
    if (path !== '/status.json' && path !== '/events' && path !== '/metrics') return send(res, 404, 'text/plain', 'not found\n');
    if (!authorized(req)) {
      counts.unauthorized++;
      res.setHeader('WWW-Authenticate', 'Bearer');
      return send(res, 401, 'text/plain', 'token required: Authorization: Bearer <token>\n');
    }
    if (path === '/status.json') return send(res, 200, 'application/json', JSON.stringify(board.snapshot()));
    if (path === '/metrics') {
      options.metrics.metrics().then(
        (text) => send(res, 200, METRICS_CONTENT_TYPE, text),
        (err: unknown) => {
          logger.warn('status.metrics.failed', undefined, err);
          send(res, 500, 'text/plain', 'metrics failed\n');
        },
      );
      return;
    }
    if (req.method === 'HEAD') return send(res, 200, 'text/event-stream', ''); // no stream to hold open
    if (clients.size >= maxClients) {
      counts.refused++;
      return send(res, 503, 'text/plain', `too many live clients (${maxClients})\n`);
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    clients.add(res);
    res.on('close', () => clients.delete(res));
    res.write(event(board.snapshot())); // the whole history first, then one sample per event
  });
  const unsubscribe = board.onSample(() => {
    if (clients.size === 0) return;
    const text = event(board.snapshot({ rates: 1 }));
    for (const res of clients) {
      if (res.writableLength > MAX_SSE_BACKLOG_BYTES) counts.skipped++;
      else res.write(text);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new TransportError(`status page: cannot listen on ${http.host}:${http.port}: ${err.message}`, { cause: err })),
    );
    server.listen(http.port, http.host, () => resolve());
  }).catch((err: unknown) => {
    unsubscribe();
    throw err;
  });
  server.on('error', (err) => logger.warn('status.server.error', undefined, err));
  const bound = server.address() as AddressInfo;
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/`;
  logger.info('status.listening', { url, token: http.token !== undefined });
  return {
    url,
    stats: () => ({ clients: clients.size, ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        for (const res of clients) res.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function event(data: unknown): string {
  return `event: snapshot\ndata: ${JSON.stringify(data)}\n\n`;
}
