import { expect, it } from 'vitest';
import { Agent } from '../src/index.js';
import { MemoryRouterConnection, MemoryRouter } from '@vip/testing';

/** A connection that keeps counters, as RmqConnection does (invalid deliveries are dropped below the agent). */
class CountingConnection extends MemoryRouterConnection {
  stats() {
    return { received: 4, invalid: 3, note: 'not a counter' };
  }
}

it("transportStats() shows the connection's numeric counters while started, undefined when stopped or when it keeps none", async () => {
  const router = new MemoryRouter();
  const counting = new Agent({ identity: 'counting', connection: () => new CountingConnection(router, 'counting') });
  const plain = new Agent({ identity: 'plain', connection: () => router.connect('plain') });
  try {
    expect(counting.transportStats()).toBeUndefined();
    await counting.start();
    await plain.start();
    expect(counting.transportStats()).toEqual({ received: 4, invalid: 3 });
    expect(plain.transportStats()).toBeUndefined();
    await counting.stop();
    expect(counting.transportStats()).toBeUndefined();
  } finally {
    await counting.close();
    await plain.close();
  }
});

it('counts a reply that matches no pending request (replies.unmatched) instead of dropping it silently', async () => {
  const router = new MemoryRouter();
  const a = new Agent({ identity: 'u1', connection: () => router.connect('u1') });
  try {
    await a.start();
    await a.core.send({ peer: 'u1', id: 'never-asked', subsystem: 'ping', args: ['pong'] });
    await a.ping.ping(); // after the bogus pong: the memory router keeps order
    expect(a.stats()['replies.unmatched']).toBe(1);
    expect(a.core.fail('never-asked-either', new Error('x'))).toBe(false);
    expect(a.stats()['replies.unmatched']).toBe(2);
  } finally {
    await a.close();
  }
});

it('counts operations its subsystems do not serve (messages.ignored) and keeps working', async () => {
  const router = new MemoryRouter();
  const a = new Agent({ identity: 'i1', connection: () => router.connect('i1') });
  try {
    await a.start();
    const stray = [
      ['hello', 'foo'],
      ['hello', 'hello'],
      ['ping', 'pang'],
      ['peerlist', 'shuffle', 'x'],
      ['peerlist', 'add'],
      ['query', 'instance-name'],
    ];
    // from the agent to itself through the router: the peer frame is its own identity
    for (const [subsystem, ...args] of stray) await a.core.send({ peer: 'i1', id: `s-${subsystem}`, subsystem: subsystem as string, args });
    expect(await a.ping.ping()).toEqual([]); // after the strays: the memory router keeps order
    // 'hello hello' from a peer is a request (answered), the other five are ignored
    expect(a.stats()['messages.ignored']).toBe(5);
  } finally {
    await a.close();
  }
});
