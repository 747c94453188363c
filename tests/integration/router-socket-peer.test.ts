/**
 * Peers that speak through a ROUTER socket (docs/protocol.md 1.6, VOLTTRON socket.py's `via`),
 * against a real platform process (tcp + CURVE): the router's socket identity is asked over a
 * DEALER first (`welcome`'s third argument), then a raw zeromq.js ROUTER sends VOLTTRON's frames
 * with that intermediary first and gets every answer with it first; a TypeScript agent does the
 * same with `via`.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Router } from 'zeromq';
import { generateKeyPair, keyToZ85 } from '@vip/protocol';
import { startPlatform, type PlatformProcess } from '@vip/testing';
import { routerSocketIdentity } from '@vip/zmq';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

let platform: PlatformProcess;
let echo: Agent;

async function agentFor(identity: string, via?: string): Promise<Agent> {
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { identity });
  const agent = await createZmqAgent({
    identity,
    address: platform.tcpAddress,
    serverKey: platform.serverkey ?? '',
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: platform.home,
    ...(via !== undefined ? { via } : {}),
  });
  await agent.start();
  return agent;
}

beforeAll(async () => {
  platform = await startPlatform();
  echo = await agentFor('echo.srv');
  echo.rpc.export('echo', (x: unknown) => x);
});

afterAll(async () => {
  await echo?.close();
  await platform?.close();
});

describe('a peer on a ROUTER socket (via)', () => {
  it('is welcomed and answered with the router identity as the intermediary frame', async () => {
    const keys = generateKeyPair();
    await platform.authorize(keys.public, { identity: 'via.raw' });
    const serverKey = platform.serverkey ?? '';
    const via = await routerSocketIdentity({
      identity: 'via.raw',
      address: platform.tcpAddress,
      serverKey,
      publicKey: keys.public,
      secretKey: keys.secret,
    });
    expect(via).toMatch(/^[0-9a-f-]{36}$/);
    const socket = new Router({
      routingId: 'via.raw',
      mandatory: true,
      linger: 0,
      curveServerKey: keyToZ85(serverKey),
      curvePublicKey: keyToZ85(keys.public),
      curveSecretKey: keyToZ85(keys.secret),
    });
    onTestFinished(() => socket.close());
    const shaken = new Promise<void>((resolve) => socket.events.on('handshake', () => resolve()));
    socket.connect(platform.tcpAddress);
    await shaken;
    const text = (frames: Buffer[]) => frames.map((f) => f.toString());
    const next = async (id: string): Promise<string[]> => {
      for (;;) {
        const frames = text(await socket.receive());
        if (frames[4] === id) return frames;
      }
    };
    // VOLTTRON's send_vip on a ROUTER: via, then peer, VIP1, user, id, subsystem, args
    await socket.send([via, '', 'VIP1', '', 'h1', 'hello', 'hello']);
    expect(await next('h1')).toEqual([via, '', 'VIP1', 'via.raw', 'h1', 'hello', 'welcome', '1.0', via, 'via.raw']);
    await socket.send([via, '', 'VIP1', '', 'p1', 'ping', 'ping']);
    expect(await next('p1')).toEqual([via, '', 'VIP1', 'via.raw', 'p1', 'ping', 'pong']);
    await socket.send([
      via,
      'echo.srv',
      'VIP1',
      '',
      'r1',
      'RPC',
      '{"jsonrpc": "2.0", "method": "echo", "params": ["through a ROUTER"], "id": "r1"}',
    ]);
    const reply = await next('r1');
    expect(reply.slice(0, 3)).toEqual([via, 'echo.srv', 'VIP1']);
    expect(JSON.parse(reply[6] ?? 'null')).toMatchObject({ id: 'r1', result: 'through a ROUTER' });
  });

  it('a TypeScript agent with `via` calls and is called like any other', async () => {
    const probeKeys = generateKeyPair();
    await platform.authorize(probeKeys.public, { identity: 'via.probe' });
    const via = await routerSocketIdentity({
      identity: 'via.probe',
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: probeKeys.public,
      secretKey: probeKeys.secret,
    });
    const agent = await agentFor('via.agent', via);
    onTestFinished(() => agent.close());
    agent.rpc.export('shout', (s: string) => s.toUpperCase());
    expect(await agent.rpc.call('echo.srv', 'echo', 42)).toBe(42);
    expect(await echo.rpc.call('via.agent', 'shout', 'hi')).toBe('HI');
    expect(await agent.ping.ping('')).toBeDefined();
  });
});
