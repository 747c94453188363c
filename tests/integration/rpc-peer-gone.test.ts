/**
 * Issue 10 item 10: an RPC call in flight to a peer that dies fails at once with
 * PeerUnreachableError (the router's `peerlist drop`), on both buses, instead of waiting for its
 * timeout; and a call made after the peer came back is not failed by that drop. The callee runs in
 * its own process and is killed with SIGKILL (no agentstop). No timing assertion: the call must
 * settle within a deadline well below the 30 s RPC timeout; hitting the deadline fails the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, PeerUnreachableError, TimeoutError } from '@vip/protocol';
import { startPlatform, type PlatformProcess } from '@vip/testing';
import { createZmqAgent } from '@vip/agent/zmq';
import { createRmqAgent } from '@vip/agent/rmq';
import type { Agent } from '@vip/agent';
import { AMQP_URL, FAST_RECONNECT, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';

const PEER_SCRIPT = fileURLToPath(new URL('./helpers/rpc-peer-process.mjs', import.meta.url));
const CALLEE = 'gone.callee';
/** Well below the 30 s RPC timeout the calls below would otherwise wait for. */
const DEADLINE_MS = 15_000;

interface PeerProcess {
  readonly child: ChildProcess;
  /** The next stdout line with this event. */
  next(event: string, timeoutMs?: number): Promise<void>;
}

function startPeer(options: object): PeerProcess {
  const child = spawn(process.execPath, [PEER_SCRIPT, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      seen.push((JSON.parse(l) as { event: string }).event);
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  return {
    child,
    next: (event, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          const i = seen.indexOf(event);
          if (i < 0) return;
          seen.splice(i, 1);
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new TimeoutError(`peer process line ${event} (stderr: ${stderr})`, timeoutMs));
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(new Error(`peer process exited before ${event}: ${stderr}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      }),
  };
}

function kill(peer: PeerProcess): Promise<void> {
  if (peer.child.exitCode !== null || peer.child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => peer.child.once('exit', () => resolve()));
  peer.child.kill('SIGKILL');
  return exited;
}

/** `p`, or a rejection once `ms` pass: a deadline hit is a failure, not a timing assertion. */
function withinDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms hit waiting for ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

interface Bus {
  caller(): Promise<Agent>;
  calleeOptions(): object;
}

function describePeerGone(name: string, setup: () => Promise<{ bus: Bus; close: () => Promise<void> }>): void {
  describe(`in-flight RPC to a peer that dies: ${name}`, () => {
    let bus: Bus;
    let close: (() => Promise<void>) | undefined;
    let caller: Agent | undefined;
    const peers: PeerProcess[] = [];
    beforeAll(async () => {
      const s = await setup();
      bus = s.bus;
      close = s.close;
      caller = await bus.caller();
    });
    afterAll(async () => {
      await Promise.all(peers.map(kill));
      await caller?.close();
      await close?.();
    });

    it('fails with PeerUnreachableError when the callee is killed; a call after it came back succeeds', async () => {
      const a = caller as Agent;
      const first = startPeer(bus.calleeOptions());
      peers.push(first);
      await first.next('ready');
      const call = a.rpc.request(CALLEE, 'hang', { timeoutMs: 60_000 });
      const settled = call.then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await first.next('called');
      await kill(first);
      const err = await withinDeadline(settled, DEADLINE_MS, 'the in-flight call to fail');
      expect(err).toBeInstanceOf(PeerUnreachableError);
      expect(err).toMatchObject({ code: 'VIP_UNREACHABLE', peer: CALLEE, subsystem: 'RPC' });
      expect(a.stats()['requests.failed_peer_gone']).toBe(1);

      // Same identity, new process: the drop of the old one does not fail calls made now.
      const second = startPeer(bus.calleeOptions());
      peers.push(second);
      await second.next('ready');
      await expect(withinDeadline(a.rpc.call(CALLEE, 'echo', 'back'), DEADLINE_MS, 'the call to the restarted callee')).resolves.toBe(
        'back',
      );
      expect(a.stats()['requests.failed_peer_gone']).toBe(1);
    });
  });
}

describePeerGone('zmq (platform process, CURVE)', async () => {
  const platform: PlatformProcess = await startPlatform({ instanceName: 'gone' });
  const callerKeys = generateKeyPair();
  const calleeKeys = generateKeyPair();
  await platform.authorize(callerKeys.public, { identity: 'gone.caller' });
  await platform.authorize(calleeKeys.public, { identity: CALLEE });
  const link = { address: platform.tcpAddress, serverKey: platform.serverkey ?? '', vipHome: platform.home };
  return {
    bus: {
      caller: async () => {
        const agent = await createZmqAgent({
          identity: 'gone.caller',
          ...link,
          publicKey: callerKeys.public,
          secretKey: callerKeys.secret,
        });
        await agent.start();
        return agent;
      },
      calleeOptions: () => ({ bus: 'zmq', identity: CALLEE, zmq: { ...link, publicKey: calleeKeys.public, secretKey: calleeKeys.secret } }),
    },
    close: () => platform.close(),
  };
});

describePeerGone('rmq (platform process, RabbitMQ)', async () => {
  const vh: TestVhost = await freshVhost('peer-gone');
  const instanceName = 'gone';
  let platform: PlatformProcess;
  try {
    platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL }, instanceName });
  } catch (err) {
    await vh.dispose();
    throw err;
  }
  const link = { url: AMQP_URL, vhost: vh.vhost, instanceName };
  return {
    bus: {
      caller: async () => {
        const agent = createRmqAgent({ identity: 'gone.caller', rmq: { ...link, reconnect: FAST_RECONNECT }, pubsub: false });
        await agent.start();
        return agent;
      },
      calleeOptions: () => ({ bus: 'rmq', identity: CALLEE, rmq: link }),
    },
    close: async () => {
      try {
        await platform.close();
      } finally {
        await vh.dispose();
      }
    },
  };
});
