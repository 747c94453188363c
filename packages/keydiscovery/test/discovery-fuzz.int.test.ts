// Discovery endpoints that misbehave, as real TCP servers on 127.0.0.1: garbage, wrong answers,
// oversized, slow, silent, gone. Each must end one fetch with a clear typed error, end the agent's
// retries after the policy's attempts (or at once when retrying cannot help), and never hang.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import { freePort, seededPrng, waitFor } from '@vip/testing';
import { fetchDiscovery } from '../src/discovery-client.js';
import { serveDiscovery } from '../src/discovery-server.js';
import { isDiscoveryFailure } from '../src/errors.js';
import { KeyDiscoveryAgent } from '../src/key-discovery-agent.js';

const KEY = generateKeyPair().public;
const TIMEOUT_MS = 300;
const MAX_BYTES = 4_096;

interface Endpoint {
  readonly url: string;
  /** Connections accepted so far (one per attempt). */
  connections: number;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP server on 127.0.0.1 that treats every connection with `behave`. */
async function endpoint(behave: (socket: Socket) => void): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const state: Endpoint = { url: '', connections: 0 };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the client hanging up on us is the point of several cases
    behave(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return Object.assign(state, { url: `http://127.0.0.1:${port}` });
}

/** After the request head arrives, write `text` (an HTTP answer or anything else) and maybe close. */
const answer =
  (text: string | Buffer, close = true) =>
  (socket: Socket): void => {
    socket.once('data', () => {
      socket.write(text);
      if (close) socket.end();
    });
  };
const http200 = (body: string | Buffer) => {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return answer(Buffer.concat([Buffer.from(head), Buffer.from(body)]));
};
const valid = (fields: Record<string, unknown>) =>
  JSON.stringify({ serverkey: KEY, 'vip-address': 'tcp://127.0.0.1:22916', 'instance-name': 'siteB', ...fields });

type Expected = { code: string; reason?: string };
interface Case {
  readonly name: string;
  readonly behave: (socket: Socket) => void;
  /** What one fetch ends with. Undefined: the fetch succeeds, the answer is refused by the agent's link check. */
  readonly fetch?: Expected;
  /** What the agent's setup mode reports. */
  readonly agent: Expected;
  /** Attempts the agent makes: every one for what may clear up, one for what cannot. */
  readonly retried: boolean;
}

/** An answer refused for `reason` (DiscoveryResponseError). */
const refused = (reason: string): Expected => ({ code: 'VIP_DISCOVERY_RESPONSE', reason });
const TIMEOUT: Expected = { code: 'VIP_TIMEOUT' };
/** A case where one fetch and the agent end with the same error, after every attempt. */
const both = (name: string, behave: (socket: Socket) => void, expected: Expected): Case => ({
  name,
  behave,
  fetch: expected,
  agent: expected,
  retried: true,
});
/** A case the fetch accepts (valid JSON) and the agent's link check refuses. */
const unlinkable = (name: string, body: string): Case => ({ name, behave: http200(body), agent: refused('schema'), retried: true });

const cases: Case[] = [
  both('answers garbage bytes, not HTTP', answer('\x00\xffgarbage\r\n\r\n'), refused('http')),
  both('answers HTML', http200('<html>It works!</html>'), refused('json')),
  both('answers bytes that are not UTF-8', http200(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), refused('json')),
  both('answers a JSON array', http200('[1, 2]'), refused('schema')),
  both('answers JSON without instance-name', http200(JSON.stringify({ serverkey: KEY })), refused('schema')),
  both('answers a number where text belongs', http200(valid({ 'vip-address': 22916 })), refused('schema')),
  unlinkable('has no external VIP address (nothing to link to)', JSON.stringify({ 'instance-name': 'siteB' })),
  unlinkable('publishes a malformed server key', valid({ serverkey: 'x'.repeat(43) + '!' })),
  unlinkable('publishes a wildcard VIP address', valid({ 'vip-address': 'tcp://0.0.0.0:22916' })),
  unlinkable('publishes an ipc VIP address', valid({ 'vip-address': 'ipc://@/home/v/run/vip.socket' })),
  unlinkable('publishes an instance name vip refuses', valid({ 'instance-name': 'tcp://10.0.0.2:22916' })),
  {
    name: "answers with this platform's own instance name",
    behave: http200(valid({ 'instance-name': 'siteA' })),
    agent: { code: 'VIP_CONFIG' },
    retried: false,
  },
  both('answers 500', answer('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n'), refused('status')),
  both(
    'redirects (not followed)',
    answer('HTTP/1.1 302 Found\r\nLocation: http://10.9.9.9/discovery/\r\nContent-Length: 0\r\n\r\n'),
    refused('status'),
  ),
  both(
    'declares a body over the limit',
    answer(`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_BYTES * 100}\r\n\r\n{`, false),
    refused('too-large'),
  ),
  both(
    'streams a chunked body without end',
    (socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = `400\r\n${' '.repeat(0x400)}\r\n`;
        for (let i = 0; i < 64 && socket.writable; i++) socket.write(chunk);
      }),
    refused('too-large'),
  ),
  both('sends headers over the parser limit', answer(`HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(32 * 1024)}\r\n\r\n`), refused('http')),
  both('breaks off the body', answer('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"instance-'), refused('http')),
  both('closes the connection without a word', (socket) => socket.once('data', () => socket.end()), refused('http')),
  both('resets the connection', (socket) => socket.once('data', () => socket.resetAndDestroy()), refused('http')),
  both('accepts and never answers', () => undefined, TIMEOUT),
  both(
    'answers slowly, a byte at a time',
    (socket) =>
      socket.once('data', () => {
        const text = `HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n${valid({})}`;
        let i = 0;
        const timer = setInterval(() => (socket.writable && i < text.length ? socket.write(text[i++]!) : clearInterval(timer)), 50);
        socket.on('close', () => clearInterval(timer));
      }),
    TIMEOUT,
  ),
];

const ATTEMPTS = 3;

describe('a misbehaving discovery endpoint', () => {
  const fetched = cases.filter((c) => c.fetch).map((c) => [c.name, c] as const);
  it.each(fetched)('%s: one fetch ends with a typed error', async (_name, c) => {
    const ep = await endpoint(c.behave);
    const err = await fetchDiscovery(ep.url, { timeoutMs: TIMEOUT_MS, maxResponseBytes: MAX_BYTES }).then(
      () => {
        throw new Error('the fetch succeeded');
      },
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ ...c.fetch, url: `${ep.url}/discovery/` });
    expect(ep.connections).toBe(1);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: setup mode retries within bounds and reports it', async (_name, c) => {
    const ep = await endpoint(c.behave);
    const home = await mkdtemp(join(tmpdir(), 'vip-keydiscovery-fuzz-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    await writeFile(join(home, 'external_address.json'), JSON.stringify([ep.url]));
    const handed: unknown[] = [];
    const agent = new KeyDiscoveryAgent({
      vipHome: home,
      instanceName: 'siteA',
      mode: 'setup',
      bindWebAddress: 'http://127.0.0.1:1',
      retry: { attempts: ATTEMPTS, baseDelayMs: 5, maxDelayMs: 20 },
      fetch: { timeoutMs: TIMEOUT_MS, maxResponseBytes: MAX_BYTES },
      routing: {
        webAddresses: () => undefined,
        setupModeConnection: (p) => void handed.push(p),
        normalModeConnection: (p) => void handed.push(p),
      },
    });
    cleanups.push(() => agent.close());
    const { results } = await agent.run();
    expect(results).toHaveLength(1);
    const [result] = results;
    const attempts = c.retried ? ATTEMPTS : 1;
    expect(result).toMatchObject({ outcome: c.retried ? 'failed' : 'skipped', target: ep.url, attempts, error: c.agent });
    expect(ep.connections).toBe(attempts);
    expect(handed).toEqual([]);
    const lastError = expect.objectContaining({ code: c.agent.code });
    expect(agent.status()).toEqual([expect.objectContaining({ state: result!.outcome, attempts, lastError })]);
  });

  it('nothing listening: unreachable, retried within bounds', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(fetchDiscovery(url, { timeoutMs: TIMEOUT_MS })).rejects.toMatchObject({
      code: 'VIP_DISCOVERY_UNREACHABLE',
      url: `${url}/discovery/`,
    });
    const home = await mkdtemp(join(tmpdir(), 'vip-keydiscovery-fuzz-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    await writeFile(join(home, 'external_address.json'), JSON.stringify([url]));
    const agent = new KeyDiscoveryAgent({
      vipHome: home,
      instanceName: 'siteA',
      mode: 'setup',
      bindWebAddress: 'http://127.0.0.1:1',
      retry: { attempts: ATTEMPTS, baseDelayMs: 5, maxDelayMs: 20 },
      routing: { webAddresses: () => undefined, setupModeConnection: () => undefined, normalModeConnection: () => undefined },
    });
    const { results } = await agent.run();
    const error = expect.objectContaining({ code: 'VIP_DISCOVERY_UNREACHABLE' });
    expect(results).toEqual([expect.objectContaining({ outcome: 'failed', attempts: ATTEMPTS, error })]);
    expect(agent.stats()).toMatchObject({ attempts: ATTEMPTS, failed: 1, failures: { VIP_DISCOVERY_UNREACHABLE: ATTEMPTS } });
  });
});

// Randomized: mutated answers at the client, random bytes at the endpoint. Seeded (VIP_FUZZ_SEED to
// reproduce), bounded in count; every exchange must settle within its deadline.
const SEED = Number(process.env.VIP_FUZZ_SEED ?? 0xd15c);
const ROUNDS = 300;
const JSON_GARBAGE = [
  '',
  '{',
  '[]',
  'null',
  '5',
  '"str"',
  '{"instance-name": 5}',
  '{"instance-name": ""}',
  '{"instance-name": "b", "serverkey": []}',
  '{"instance-name": "\\ud800"}',
  '['.repeat(2_000),
  '{"a":'.repeat(1_000),
  '\u0000',
  'NaN',
  valid({}),
  valid({ 'vip-address': null }),
];

describe('randomized discovery exchanges', () => {
  it(`${ROUNDS} mutated answers: each fetch resolves or fails with a discovery error, none hangs`, async () => {
    const rng = seededPrng(SEED);
    const answers: Buffer[] = [];
    const ep = await endpoint((socket) =>
      socket.once('data', () => {
        socket.end(answers.shift() ?? Buffer.alloc(0));
      }),
    );
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const body = Buffer.from(rng.pick(JSON_GARBAGE));
      let text: Buffer = Buffer.concat([
        Buffer.from(`HTTP/1.1 ${rng.pick(['200 OK', '200 OK', '404 Not Found', '200'])}\r\nContent-Length: ${body.length}\r\n\r\n`),
        body,
      ]);
      switch (rng.int(0, 3)) {
        case 0: // flip some bytes
          text = Buffer.from(text);
          for (let n = rng.int(1, 4); n > 0; n--) text[rng.int(0, text.length - 1)] = rng.int(0, 255);
          break;
        case 1: // cut short
          text = text.subarray(0, rng.int(0, text.length));
          break;
        case 2: // random bytes
          text = rng.bytes(rng.int(0, 64));
          break;
        default: // as built
      }
      answers.push(text);
      const outcome = await fetchDiscovery(ep.url, { timeoutMs: 2_000, maxResponseBytes: MAX_BYTES }).then(
        () => 'ok',
        (err: unknown) => {
          expect(isDiscoveryFailure(err), `round ${i}: ${String(err)}`).toBe(true);
          expect((err as { code: string }).code, `round ${i}`).not.toBe('VIP_TIMEOUT'); // every answer ended: no wait ran out
          return `${(err as { code: string }).code}/${(err as { reason?: string }).reason ?? ''}`;
        },
      );
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    expect(ep.connections).toBe(ROUNDS);
    expect(Object.keys(outcomes).length).toBeGreaterThan(4); // the mutations reached several outcomes
  });

  it(`${ROUNDS} random requests at the endpoint: each connection is answered or dropped, and it still serves`, async () => {
    const rng = seededPrng(SEED + 1);
    const server = await serveDiscovery({
      bindWebAddress: 'http://127.0.0.1:0',
      info: { instanceName: 'siteA', vipAddress: 'tcp://127.0.0.1:22916', serverKey: KEY },
      limits: { headersTimeoutMs: 200, requestTimeoutMs: 400 },
    });
    cleanups.push(() => server.close());
    const request = (): Buffer => {
      const line = `${rng.pick(['GET', 'POST', 'HEAD', 'PUT', 'G\u00e9T', ''])} ${rng.pick(['/discovery/', '/', '/discovery', '*', '/%00', '//discovery/'])} HTTP/1.1\r\n`;
      const headers = rng.pick([
        'Host: x\r\n',
        '',
        'Content-Length: 5\r\n',
        'Content-Length: -1\r\n',
        'Transfer-Encoding: chunked\r\n',
        'Host: x\r\nHost: y\r\n',
      ]);
      const whole = Buffer.from(`${line}${headers}\r\n${rng.pick(['', 'hello', '5\r\nhello\r\n0\r\n\r\n'])}`);
      switch (rng.int(0, 3)) {
        case 0:
          return rng.bytes(rng.int(1, 80));
        case 1:
          return whole.subarray(0, rng.int(1, whole.length)); // cut short: the server waits, then gives up
        case 2: {
          const flipped = Buffer.from(whole);
          flipped[rng.int(0, flipped.length - 1)] = rng.int(0, 255);
          return flipped;
        }
        default:
          return whole;
      }
    };
    const exchange = async (bytes: Buffer): Promise<void> => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      const closed = waitFor(socket, 'close', { timeoutMs: 5_000, what: 'the endpoint ending a random request' });
      socket.write(bytes);
      await closed;
    };
    for (let i = 0; i < ROUNDS; i += 30) await Promise.all(Array.from({ length: 30 }, () => exchange(request())));
    const stats = server.stats();
    const total = [...Object.values(stats.responses), ...Object.values(stats.clientErrors)].reduce((a, b) => a + b, 0);
    // every answer and every drop is counted (one connection may see both: an answer, then garbage)
    expect(total).toBeGreaterThanOrEqual(ROUNDS);
    expect(stats.clientErrors.ERR_HTTP_REQUEST_TIMEOUT ?? 0).toBeGreaterThan(0); // the cut-short ones were timed out
    const answer = await fetchDiscovery(server.url);
    expect(answer.info.instanceName).toBe('siteA');
  });
});
