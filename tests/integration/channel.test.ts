/**
 * The `channel` subsystem (VOLTTRON 9 channel.py) through a real platform process: a file served
 * by a TypeScript agent over a channel, fetched once by a raw VIP client that frames each message
 * as VOLTTRON's Python channel does (`peer | VIP1 | '' | '' | channel | name | data...`), and once
 * by another TypeScript agent, with the protocol of packages/agent/README.md ("Channels"): the
 * reader asks `fetch <size>` for each chunk (an empty chunk is the end), then `checksum`, then `done`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import { openRawClient, pythonRpcCall, startPlatform, type PlatformProcess, type RawVipClient } from '@vip/testing';
import type { Agent, Channel } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

let platform: PlatformProcess;
let dir: string;
let file: string;
let content: Buffer;
let server: Agent;
let raw: RawVipClient;
const agents: Agent[] = [];

async function agentFor(identity: string): Promise<Agent> {
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { identity });
  const agent = await createZmqAgent({
    identity,
    address: platform.tcpAddress,
    serverKey: platform.serverkey ?? '',
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: platform.home,
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

/** The serving side of the README example: answer `fetch <n>`, `checksum`, `done` on one channel. */
async function serveFile(channel: Channel, path: string): Promise<void> {
  const handle = await open(path, 'r');
  const hash = createHash('sha256');
  try {
    for (;;) {
      const [op, arg] = await channel.receive({ timeoutMs: 10_000 });
      const verb = op?.toString();
      if (verb === 'fetch') {
        const size = Math.min(Number(arg?.toString() ?? '0'), 1024 * 1024);
        const chunk = Buffer.alloc(size);
        const { bytesRead } = await handle.read(chunk, 0, size, null);
        hash.update(chunk.subarray(0, bytesRead));
        await channel.send(chunk.subarray(0, bytesRead));
      } else if (verb === 'checksum') {
        await channel.send(hash.digest('hex'));
      } else {
        return; // done, or anything else: stop
      }
    }
  } finally {
    await handle.close();
    channel.close();
  }
}

beforeAll(async () => {
  platform = await startPlatform();
  dir = await mkdtemp(join(tmpdir(), 'vip-channel-'));
  file = join(dir, 'firmware.bin');
  content = randomBytes(300_000);
  await writeFile(file, content);
  server = await agentFor('files.srv');
  // the offer: the caller names the channel, the server opens its end and serves in the background
  server.rpc.export(
    'offer',
    function (this: { caller: string }, name: string) {
      const channel = server.channel.create(this.caller, name);
      void serveFile(channel, file).catch(() => undefined);
      return true;
    },
    { params: ['channel_name'] },
  );
  raw = await openRawClient(platform, 'py.fetcher');
});

afterAll(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await raw?.close();
  await platform?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('channel', () => {
  it('a Python-framed peer fetches a file over a channel, chunk by chunk', async () => {
    const name = 'py-channel-0123456789abcdefghij'; // VOLTTRON names are 30 printable characters
    expect((await pythonRpcCall(raw, 'files.srv', 'offer', [name])).result).toBe(true);
    const ask = async (...frames: string[]): Promise<Buffer[]> => {
      // what VOLTTRON's channel socket sends: the name, then the data frames, with an empty message id
      await raw.send(['files.srv', 'VIP1', '', '', 'channel', name, ...frames]);
      const reply = await raw.receiveMatching((f) => f[4]?.toString() === 'channel');
      expect(reply.slice(0, 6).map((f) => f.toString())).toEqual(['files.srv', 'VIP1', 'files.srv', '', 'channel', name]);
      return reply.slice(6);
    };
    const chunks: Buffer[] = [];
    for (;;) {
      const [chunk] = await ask('fetch', '65536');
      if (!chunk || chunk.length === 0) break;
      chunks.push(chunk);
    }
    const got = Buffer.concat(chunks);
    expect(got.equals(content)).toBe(true);
    const [digest] = await ask('checksum');
    expect(digest?.toString()).toBe(createHash('sha256').update(content).digest('hex'));
    await raw.send(['files.srv', 'VIP1', '', '', 'channel', name, 'done']);
  });

  it('a TypeScript agent fetches the same file; messages for a channel nobody opened are ignored and counted', async () => {
    const client = await agentFor('ts.fetcher');
    const channel = client.channel.create('files.srv');
    expect(channel.name).toHaveLength(30);
    expect(await client.rpc.call('files.srv', 'offer', channel.name)).toBe(true);
    const chunks: Buffer[] = [];
    for (;;) {
      await channel.send('fetch', '100000');
      const [chunk] = await channel.receive();
      if (!chunk || chunk.length === 0) break;
      chunks.push(chunk);
    }
    await channel.send('checksum');
    const [digest] = await channel.receive();
    await channel.send('done');
    channel.close();
    expect(Buffer.concat(chunks).equals(await readFile(file))).toBe(true);
    expect(digest?.toString()).toBe(createHash('sha256').update(content).digest('hex'));
    expect(channel.stats()).toMatchObject({ sent: 6, received: 5, dropped: 0 });
    const before = client.channel.unknown;
    await raw.send(['ts.fetcher', 'VIP1', '', '', 'channel', 'never-opened', 'x']);
    await raw.send(['ts.fetcher', 'VIP1', '', 'p', 'ping', 'ping']); // a round trip behind it
    await raw.receiveMatching((f) => f[4]?.toString() === 'ping');
    expect(client.channel.unknown).toBe(before + 1);
    expect(() => client.channel.create('files.srv', 'dup')).not.toThrow();
    expect(() => client.channel.create('files.srv', 'dup')).toThrow(/unavailable/);
  });
});
