import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { RmqConnection, RmqSetupError } from '../src/index.js';
import { Inbox } from './broker-fixture.js';

/**
 * TLS plumbing without a TLS broker: a Node TLS server that demands a client certificate stands in
 * for RabbitMQ's amqps listener and records what the client presented before hanging up.
 */
const run = promisify(execFile);
let dir: string;
const pem: Record<string, string> = {};

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vip-rmq-tls-'));
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=vip-test-ca',
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'inst.tls-agent'],
  ] as const) {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      ...(name === 'server' ? ['-extfile', 'server.ext'] : []),
    );
  }
  for (const f of ['ca.crt', 'server.key', 'server.crt', 'client.key', 'client.crt']) pem[f] = await readFile(join(dir, f), 'utf8');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Seen {
  readonly authorized: boolean;
  readonly clientCn: unknown;
  readonly header: string;
}

async function fakeAmqpsServer(): Promise<{ server: Server; port: number; seen: Inbox<Seen> }> {
  const seen = new Inbox<Seen>();
  const server = createServer(
    { key: pem['server.key'], cert: pem['server.crt'], ca: pem['ca.crt'], requestCert: true, rejectUnauthorized: true },
    (socket: TLSSocket) => {
      socket.once('data', (chunk: Buffer) => {
        seen.push({
          authorized: socket.authorized,
          clientCn: socket.getPeerCertificate().subject?.CN,
          header: chunk.subarray(0, 8).toString('latin1'),
        });
        socket.destroy();
      });
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as { port: number }).port, seen };
}

function tlsAgent(port: number, ca: string | undefined): RmqConnection {
  const c = new RmqConnection({
    url: `amqps://127.0.0.1:${port}`,
    vhost: 'volttron',
    instanceName: 'inst',
    identity: 'tls-agent',
    tls: { ca, cert: pem['client.crt'], key: pem['client.key'], external: true },
  });
  onTestFinished(() => c.close());
  return c;
}

describe('amqps with a client certificate (SASL EXTERNAL)', () => {
  it('verifies the server against the CA, presents the client certificate, then speaks AMQP', async () => {
    const { port, seen } = await fakeAmqpsServer();
    const c = tlsAgent(port, pem['ca.crt']);
    const err = await c.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RmqSetupError); // the stand-in hangs up after the protocol header
    const s = await seen.next(undefined, 5_000, 'TLS client');
    expect(s).toEqual({ authorized: true, clientCn: 'inst.tls-agent', header: 'AMQP\x00\x00\x09\x01' });
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const { port, seen } = await fakeAmqpsServer();
    const c = tlsAgent(port, pem['client.crt']); // not the CA of the server certificate
    const err = await c.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RmqSetupError);
    expect(err).toMatchObject({ missing: 'credentials' });
    expect((err as Error).message).toMatch(/TLS handshake/);
    expect(seen.items).toEqual([]);
  });
});
