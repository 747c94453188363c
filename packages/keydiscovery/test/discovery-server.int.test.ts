// The /discovery/ endpoint on a real socket on 127.0.0.1: what it serves, and what it does with
// requests it does not serve, oversized or slow ones.
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, generateKeyPair } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { fetchDiscovery } from '../src/discovery-client.js';
import { serveDiscovery, type DiscoveryServer } from '../src/discovery-server.js';
import type { DiscoveryInfo } from '../src/discovery-info.js';

const key = generateKeyPair().public;
const info: DiscoveryInfo = { instanceName: 'siteA', vipAddress: 'tcp://127.0.0.1:22916', serverKey: key };
const servers: DiscoveryServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: Partial<Parameters<typeof serveDiscovery>[0]> = {}): Promise<DiscoveryServer> {
  const server = await serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info, ...options });
  servers.push(server);
  return server;
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function http(
  server: DiscoveryServer,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // node sends a GET or DELETE body with no length unless told: say it, or the body reads as a second request
    const headers = { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) };
    const req = request({ host: '127.0.0.1', port: server.port, path, method: init.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('test request timed out')));
    req.end(init.body);
  });
}

/** Raw bytes to the server; resolves with everything it sent back once it closed the connection. */
async function raw(server: DiscoveryServer, send: (socket: Socket) => void): Promise<string> {
  const socket = connect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = waitFor(socket, 'close', { timeoutMs: 10_000, what: 'the server closing the connection' });
  send(socket);
  await closed;
  return Buffer.concat(chunks).toString('latin1');
}

describe('serveDiscovery', () => {
  it('serves the JSON VOLTTRON serves: its keys, its order, Python json.dumps text', async () => {
    const server = await serve();
    const reply = await http(server, '/discovery/');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body).toBe(`{"serverkey": "${key}", "vip-address": "tcp://127.0.0.1:22916", "instance-name": "siteA"}`);
    expect(server.discoveryUrl).toBe(`http://127.0.0.1:${server.port}/discovery/`);
    // what a client reads from it
    const answer = await fetchDiscovery(server.url);
    expect(answer.info).toEqual({ ...info, rmqAddress: undefined, rmqCaCert: undefined });
    expect(server.stats().responses).toEqual({ 200: 2 });
  });

  it('publishes the RMQ fields, and no key without a VIP address (as VOLTTRON)', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const rmq = await serve({
      info: {
        instanceName: 'siteR',
        vipAddress: 'tcp://10.0.0.5:22916',
        serverKey: key,
        rmqAddress: 'amqps://10.0.0.5:5671/volttron',
        rmqCaCert: pem,
      },
    });
    expect(JSON.parse((await http(rmq, '/discovery/')).body)).toEqual({
      serverkey: key,
      'vip-address': 'tcp://10.0.0.5:22916',
      'instance-name': 'siteR',
      'rmq-address': 'amqps://10.0.0.5:5671/volttron',
      'rmq-ca-cert': pem,
    });
    const internal = await serve({ info: { instanceName: 'siteI', serverKey: key } });
    expect((await http(internal, '/discovery/')).body).toBe('{"instance-name": "siteI"}');
  });

  it('asks an info function on every request, and answers 503 while it fails', async () => {
    let current: DiscoveryInfo | undefined;
    const server = await serve({
      info: () => {
        if (!current) throw new Error('router not bound yet');
        return current;
      },
    });
    const before = await http(server, '/discovery/');
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toEqual({ error: 'discovery information is not available; see the platform log' });
    current = { ...info, vipAddress: 'tcp://127.0.0.1:5555' };
    expect(JSON.parse((await http(server, '/discovery/')).body)['vip-address']).toBe('tcp://127.0.0.1:5555');
    current = { ...info, serverKey: 'not-a-key' }; // a bad value at run time is the same 503, not a crash
    expect((await http(server, '/discovery/')).status).toBe(503);
  });

  it('refuses bad values to publish and a bad bind address at start', async () => {
    await expect(serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info: { ...info, serverKey: 'short' } })).rejects.toThrow(
      ConfigError,
    );
    await expect(
      serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info: { ...info, vipAddress: 'tcp://0.0.0.0:22916' } }),
    ).rejects.toThrow(/wildcard/);
    await expect(serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info: { ...info, instanceName: 'a b' } })).rejects.toThrow(
      /instance-name/,
    );
    await expect(serveDiscovery({ bindWebAddress: 'https://127.0.0.1:0', info })).rejects.toThrow(/https is not supported/);
    await expect(serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0/web', info })).rejects.toThrow(/no path/);
  });

  it('reports an address in use as a TransportError', async () => {
    const first = await serve();
    await expect(serveDiscovery({ bindWebAddress: first.url, info })).rejects.toMatchObject({
      code: 'VIP_TRANSPORT',
      message: expect.stringMatching(/EADDRINUSE/),
    });
  });

  it.each([
    ['another path', '/', 'GET', 404],
    ['a near miss', '/discovery', 'GET', 404],
    ['VOLTTRON Central allow (not served)', '/discovery/allow', 'POST', 404],
    ['another method', '/discovery/', 'POST', 405],
    ['DELETE', '/discovery/', 'DELETE', 405],
  ])('%s: %s %s answers %i with a JSON error', async (_what, path, method, status) => {
    const server = await serve();
    const reply = await http(server, path, {
      method,
      body: method === 'GET' ? undefined : '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body)).toHaveProperty('error');
    if (status === 405) expect(reply.headers.allow).toBe('GET, HEAD');
  });

  it('HEAD answers the headers alone; a query string is ignored (as VOLTTRON matches the path)', async () => {
    const server = await serve();
    const head = await http(server, '/discovery/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(50);
    expect((await http(server, '/discovery/?x=1')).status).toBe(200);
  });

  it('refuses a request body over the limit (413), declared or streamed', async () => {
    const server = await serve({ limits: { maxBodyBytes: 16 } });
    expect((await http(server, '/discovery/', { body: 'x'.repeat(17) })).status).toBe(413);
    const streamed = await raw(server, (s) => {
      s.write('GET /discovery/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      s.write('40\r\n' + 'y'.repeat(64) + '\r\n');
    });
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /);
    expect((await http(server, '/discovery/', { body: 'small' })).status).toBe(200);
  });

  it('cuts off malformed HTTP, oversized headers and slow clients, and keeps serving', async () => {
    const server = await serve({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, maxHeaderBytes: 1024 } });
    expect(await raw(server, (s) => s.write('\x16\x03\x01 not http at all\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(server, (s) => s.write(`GET /discovery/ HTTP/1.1\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`))).toMatch(/^HTTP\/1\.1 431 /);
    // slowloris: half a request line, then nothing; and a connection that never says anything
    await raw(server, (s) => s.write('GET /discovery/ HT'));
    await raw(server, () => undefined);
    expect(Object.values(server.stats().clientErrors).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    expect((await http(server, '/discovery/')).status).toBe(200);
  });

  it('close() drops open connections, is idempotent, and frees the port', async () => {
    const server = await serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info });
    const idle = connect(server.port, '127.0.0.1');
    await once(idle, 'connect');
    const idleClosed = waitFor(idle, 'close', { what: 'the idle connection dropped' });
    await Promise.all([server.close(), server.close()]);
    await idleClosed;
    // the port is free again
    const probe = createTcpServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(server.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});
