import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/admin/http-client.js';

/** HttpClient against a loopback TCP server that writes answers byte for byte as the test says. */
let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function rawServer(onRequest: (socket: Socket, n: number) => void): Promise<{ base: string; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      while (head.includes('\r\n\r\n')) {
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        onRequest(socket, ++requests);
      }
    });
  });
  const s = server;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('HttpClient', () => {
  it('takes answers split anywhere, chunked with extensions and trailers, 204 without a body', async () => {
    const srv = await rawServer((socket, n) => {
      if (n === 1) {
        const text = ok('{"a":"é"}');
        for (let i = 0; i < text.length; i += 3) socket.write(text.slice(i, i + 3)); // é's bytes split too
      } else if (n === 2) {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;x=y\r\n[1,2\r\n2\r\n,3\r\n1\r\n]\r\n0\r\nx-t: 1\r\n\r\n');
      } else {
        socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      }
    });
    const c = new HttpClient(srv.base, 2_000);
    expect(await c.request('GET', '/x', {})).toEqual({ status: 200, text: '{"a":"é"}' });
    expect(await c.request('GET', '/y', {})).toEqual({ status: 200, text: '[1,2,3]' });
    expect(await c.request('DELETE', '/z', {})).toEqual({ status: 204, text: '' });
    expect(srv.connections()).toBe(1);
    c.close();
  });

  it('drops a connection that speaks unasked (an idle-timeout 408), and the next request gets its own answer', async () => {
    const srv = await rawServer((socket, n) => {
      socket.write(ok(`"r${n}"`));
      if (n === 1) setTimeout(() => socket.write('HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n'), 20);
    });
    const c = new HttpClient(srv.base, 2_000);
    expect((await c.request('GET', '/', {})).text).toBe('"r1"');
    await new Promise((r) => setTimeout(r, 100));
    expect(await c.request('GET', '/', {})).toEqual({ status: 200, text: '"r2"' });
    expect(srv.connections()).toBe(2);
    c.close();
  });

  it('rejects what is not HTTP, a missing length, an oversized length; the next request still works', async () => {
    const bad = ['SMTP ready\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\nbody', 'HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n'];
    const srv = await rawServer((socket, n) => socket.write(bad[n - 1] ?? ok('"fine"')));
    const c = new HttpClient(srv.base, 2_000);
    await expect(c.request('GET', '/', {})).rejects.toThrow('not an HTTP answer');
    await expect(c.request('GET', '/', {})).rejects.toThrow('without content-length');
    await expect(c.request('GET', '/', {})).rejects.toThrow('refused');
    expect((await c.request('GET', '/', {})).text).toBe('"fine"');
    c.close();
  });

  it('sends queued requests one at a time, in order', async () => {
    const srv = await rawServer((socket, n) => socket.write(ok(String(n))));
    const c = new HttpClient(srv.base, 2_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => c.request('GET', '/', {})));
    expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    c.close();
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new HttpClient('amqp://127.0.0.1', 1_000)).toThrow(TypeError);
  });
});
