import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RabbitMqManagement } from '../../src/admin/rabbitmq-management.js';

/**
 * The management client against a loopback HTTP server that answers as told: the failures a
 * healthy broker will not produce on demand (silence, garbage, refusals). The real API is
 * exercised by the broker tests.
 */
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; connections: () => number; dropIdle: () => void }> {
  let connections = 0;
  const server = createServer(answer);
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    dropIdle: () => server.closeIdleConnections(),
  };
}

const api = (baseUrl: string, timeoutMs = 2_000) => new RabbitMqManagement({ baseUrl, user: 'guest', password: 'guest', timeoutMs });

describe('RabbitMqManagement', () => {
  it('creates a certificate-only user with an empty password hash', async () => {
    const seen: Array<{ method: string; url: string; body: unknown }> = [];
    const srv = await serve((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: JSON.parse(text) as unknown });
        res.statusCode = 201;
        res.end();
      });
    });
    await api(srv.url).ensureUserWithoutPassword('v1.agent');
    expect(seen).toEqual([{ method: 'PUT', url: '/api/users/v1.agent', body: { password_hash: '', tags: '' } }]);
  });

  it('reads bindings over one kept-alive connection, with basic auth', async () => {
    const seen: string[] = [];
    const srv = await serve((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify([
          { destination: 'q', destination_type: 'queue', routing_key: 'a.#', arguments: { 'x-vip-bus': '' } },
          { destination: 'x', destination_type: 'exchange', routing_key: '#', arguments: {} },
        ]),
      );
    });
    const m = api(srv.url);
    for (let i = 0; i < 3; i++) {
      expect(await m.listBindings('v/1', 'volttron')).toEqual([{ destination: 'q', routingKey: 'a.#', arguments: { 'x-vip-bus': '' } }]);
    }
    expect(seen[0]).toBe(`GET /api/exchanges/v%2F1/volttron/bindings/source Basic ${Buffer.from('guest:guest').toString('base64')}`);
    expect(srv.connections()).toBe(1);
  });

  it('reads chunked answers, and sends again once on a new connection when the server closed the kept-alive one', async () => {
    let n = 0;
    let hangUps = 0;
    const srv = await serve((req, res) => {
      n += 1;
      if (hangUps > 0) {
        hangUps -= 1;
        req.socket.destroy(); // the race a keep-alive client meets: its connection closed as it sent
        return;
      }
      res.setHeader('content-type', 'application/json');
      if (n === 2) res.setHeader('connection', 'close'); // as cowboy after its keep-alive limit
      res.write('[{"name":'); // no content-length: chunked
      res.end(`"q${n}"}]`);
    });
    const m = api(srv.url);
    expect([...(await m.listQueues('v'))]).toEqual(['q1']);
    expect([...(await m.listQueues('v'))]).toEqual(['q2']);
    expect([...(await m.listQueues('v'))]).toEqual(['q3']);
    expect(srv.connections()).toBe(2);
    // a server that drops idle connections: the next request finds its connection gone, and retries
    srv.dropIdle();
    expect([...(await m.listQueues('v'))]).toEqual(['q4']);
    hangUps = 1;
    expect([...(await m.listQueues('v'))]).toEqual(['q6']); // q5's kept-alive connection hung up: sent again
    hangUps = 2; // the retry, on a new connection, hangs up too: the caller gets the failure
    await expect(m.listQueues('v')).rejects.toMatchObject({ missing: 'plugin' });
    expect([...(await m.listQueues('v'))]).toEqual(['q9']);
  });

  it('refuses a management URL that is not http(s)', () => {
    expect(() => api('amqp://127.0.0.1:5672')).toThrow(expect.objectContaining({ code: 'VIP_CONFIG' }));
  });

  it('names the failure: refused login, missing rights, other status, unexpected body', async () => {
    let status = 401;
    let body = '';
    const srv = await serve((_req, res) => {
      res.statusCode = status;
      res.end(body);
    });
    const m = api(srv.url);
    await expect(m.listBindings('v', 'volttron')).rejects.toMatchObject({ name: 'RmqSetupError', missing: 'credentials' });
    status = 403;
    await expect(m.ensureVhost('v')).rejects.toMatchObject({ missing: 'permission', message: expect.stringContaining('set_user_tags') });
    status = 500;
    await expect(m.listQueues('v')).rejects.toMatchObject({ missing: 'broker', message: expect.stringContaining('answered 500') });
    status = 200;
    body = '<html>not json</html>';
    await expect(m.listBindings('v', 'volttron')).rejects.toMatchObject({
      missing: 'broker',
      message: expect.stringContaining('unexpected binding list'),
    });
    status = 404;
    await expect(m.deleteVhost('v')).resolves.toBeUndefined(); // absent is fine
  });

  it('getUser and getPermissions: 404 is undefined, an answer is zod-checked, other failures are named', async () => {
    const answers: Record<string, [number, string]> = {
      '/api/users/i.a': [200, JSON.stringify({ name: 'i.a', password_hash: 'h', tags: 'monitoring,management' })],
      '/api/users/i.b': [404, JSON.stringify({ error: 'Object Not Found', reason: 'Not Found' })],
      '/api/users/i.c': [200, JSON.stringify({ nom: 'i.c' })],
      '/api/permissions/v%2F1/i.a': [200, JSON.stringify({ user: 'i.a', vhost: 'v/1', configure: 'c', write: 'w', read: 'r' })],
      '/api/permissions/v%2F1/i.b': [404, ''],
      '/api/permissions/v%2F1/i.d': [500, ''],
    };
    const srv = await serve((req, res) => {
      const [status, body] = answers[req.url ?? ''] ?? [418, ''];
      res.statusCode = status;
      res.end(body);
    });
    const m = api(srv.url);
    expect(await m.getUser('i.a')).toEqual({ name: 'i.a', tags: ['monitoring', 'management'] });
    expect(await m.getUser('i.b')).toBeUndefined();
    await expect(m.getUser('i.c')).rejects.toMatchObject({ missing: 'broker', message: expect.stringContaining('unexpected answer') });
    expect(await m.getPermissions('v/1', 'i.a')).toEqual({ configure: 'c', write: 'w', read: 'r' });
    expect(await m.getPermissions('v/1', 'i.b')).toBeUndefined();
    await expect(m.getPermissions('v/1', 'i.d')).rejects.toMatchObject({
      missing: 'broker',
      message: expect.stringContaining('answered 500'),
    });
  });

  it('gives up on a silent server after timeoutMs, and on a closed port at once', async () => {
    const srv = await serve(() => {}); // never answers
    await expect(api(srv.url, 200).listBindings('v', 'volttron')).rejects.toMatchObject({
      missing: 'plugin',
      cause: expect.objectContaining({ message: expect.stringContaining('200 ms') }),
    });
    await close?.();
    close = undefined;
    await expect(api(srv.url).listBindings('v', 'volttron')).rejects.toMatchObject({
      missing: 'plugin',
      message: expect.stringContaining('not reachable'),
    });
  });
});
