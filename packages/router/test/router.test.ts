import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_FRAME, VIP_SIGNATURE, textFrame, type RouterExtension, type RouterServices, type RoutedMessage } from '@vip/protocol';
import { f, routerHarness, view } from './harness.js';

type Harness = Awaited<ReturnType<typeof routerHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('router-handled subsystems', () => {
  it('answers hello with welcome, 1.0, its identity and the sender, user = sender', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'hello', ['hello'], 'h1');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'h1', 'hello', 'welcome', '1.0', 'router-id', 'alice']);
  });

  it('puts the authenticated user id on hello replies when the transport has one', async () => {
    h = await routerHarness();
    const a = await h.connect('alice', 'user-a');
    a.send('', 'hello', ['hello']);
    expect(view(await a.inbox.next())[1]).toBe('user-a');
  });

  it('answers ping with pong and echoes the frames after the first', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'ping', ['abc', 'def', 'ghi'], 'p1');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'p1', 'ping', 'pong', 'def', 'ghi']);
    a.send('', 'ping', [], 'p2');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'p2', 'ping', 'pong']);
  });

  it("ignores a peer's pong (the answer to the router's own liveness ping): counted, never answered", async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'ping', ['pong'], 'vip.router.probe');
    a.send('', 'ping', ['ping'], 'after');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'after', 'ping', 'pong']);
    expect(h.router.stats().counters['ping pong ignored']).toBe(1);
  });

  it('lists peers, and answers missing or unknown peerlist operations with an error', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    a.send('', 'peerlist', ['list'], 'l1');
    const listing = view(await a.inbox.next());
    expect(listing.slice(0, 5)).toEqual(['', '', 'l1', 'peerlist', 'listing']);
    expect(listing.slice(5).sort()).toEqual(['alice', 'bob']);
    a.send('', 'peerlist', [], 'l2');
    expect(view(await a.inbox.next())).toEqual(['', '', 'l2', 'peerlist', 'error', 'missing operation']);
    a.send('', 'peerlist', ['add', 'x'], 'l3');
    expect(view(await a.inbox.next())).toEqual(['', '', 'l3', 'peerlist', 'error', 'unknown operation']);
  });

  it('broadcasts peerlist add to known peers, never to the new peer itself', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    await h.settle();
    expect(view(await a.inbox.next())).toEqual(['', '', '', 'peerlist', 'add', 'bob']);
    expect(b.inbox.drain()).toEqual([]);
  });

  it('answers every query property with VOLTTRON encodings, unknown and missing with an empty frame', async () => {
    h = await routerHarness({
      query: {
        serverkey: 'KEY',
        'instance-name': 'vip1',
        addresses: ['tcp://127.0.0.1:22916', 'tcp://h\u00e9:1'],
        local_address: () => 'ipc://@/tmp/vip.socket',
        'agent-monitor-frequency': 600,
        'bind-web-address': null,
      },
    });
    const a = await h.connect('alice');
    const ask = async (args: string[]) => {
      a.send('', 'query', args, 'q');
      const m = await a.inbox.next();
      expect(view(m).slice(0, 5)).toEqual(['', '', 'q', 'query', '']);
      return m.args[1];
    };
    expect((await ask(['serverkey']))?.toString()).toBe('KEY');
    expect((await ask(['instance-name']))?.toString()).toBe('vip1');
    expect((await ask(['addresses']))?.toString()).toBe('["tcp://127.0.0.1:22916", "tcp://h\\u00e9:1"]');
    expect((await ask(['local_address']))?.toString()).toBe('ipc://@/tmp/vip.socket');
    expect((await ask(['agent-monitor-frequency']))?.toString('hex')).toBe('58020000');
    expect((await ask(['bind-web-address']))?.length).toBe(0);
    expect((await ask(['no-such-property']))?.length).toBe(0);
    expect((await ask(['toString']))?.length).toBe(0);
    expect((await ask([]))?.length).toBe(0);
  });

  it('answers an unknown router subsystem with error 93 and an empty recipient arg', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'nosuchsubsystem', ['x'], 'u1');
    expect(view(await a.inbox.next())).toEqual(['', '', 'u1', 'error', '93', 'Protocol not supported', '', 'nosuchsubsystem']);
    expect(h.router.stats().errors['93']).toBe(1);
  });

  it('swallows error messages addressed to the router', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'error', ['113', 'No route to host', 'x', 'RPC'], 'e1');
    a.send('', 'ping', ['ping'], 'after');
    expect(view(await a.inbox.next())[2]).toBe('after');
    expect(h.router.stats().counters['error to router ignored']).toBe(1);
  });

  it('honours quit only from control; others get error 93', async () => {
    let quits = 0;
    h = await routerHarness({ onQuit: () => quits++ });
    const a = await h.connect('alice');
    const control = await h.connect('control');
    a.send('', 'quit', [], 'q1');
    expect(view(await a.inbox.nextMatching((m) => m.subsystem.toString() === 'error'))).toEqual([
      '',
      '',
      'q1',
      'error',
      '93',
      'Protocol not supported',
      '',
      'quit',
    ]);
    control.send('', 'quit', [], 'q2');
    await h.settle();
    expect(quits).toBe(1);
  });

  it('agentstop drops the named peer: drop broadcast and every extension told', async () => {
    const dropped: string[] = [];
    const ext: RouterExtension = {
      subsystems: ['pubsub'],
      attach() {},
      handle: () => true,
      peerDropped: (p) => dropped.push(p.toString()),
    };
    h = await routerHarness({}, [ext]);
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    b.send('', 'agentstop', ['bob'], '');
    expect(view(await a.inbox.next())).toEqual(['', '', '', 'peerlist', 'drop', 'bob']);
    expect(dropped).toEqual(['bob']);
    expect(h.router.peers.has(f('bob'))).toBe(false);
  });
});

describe('forwarding', () => {
  it('rewrites to [recipient, sender, VIP1, user=sender] and forwards frames by reference', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    const payload = Buffer.from([0xff, 0x00, 0x7b]);
    a.raw([f('bob'), VIP_SIGNATURE, f('forged-user'), f('r1'), f('RPC'), payload]);
    const m = await b.inbox.next();
    expect(view(m).slice(0, 4)).toEqual(['alice', 'alice', 'r1', 'RPC']);
    expect(m.args[0]).toBe(payload);
  });

  it('uses the authenticated user id when the transport reports one', async () => {
    h = await routerHarness();
    const a = await h.connect('alice', 'user-a');
    const b = await h.connect('bob');
    a.send('bob', 'RPC', ['{}'], 'r1');
    const m = await b.inbox.nextMatching((x) => x.subsystem.toString() === 'RPC');
    expect(view(m).slice(0, 2)).toEqual(['alice', 'user-a']);
  });

  it('answers an unreachable recipient with error 113 and drops it everywhere', async () => {
    const dropped: string[] = [];
    const ext: RouterExtension = {
      subsystems: ['pubsub'],
      attach() {},
      handle: () => true,
      peerDropped: (p) => dropped.push(p.toString()),
    };
    h = await routerHarness({}, [ext]);
    const a = await h.connect('alice');
    const c = await h.connect('carol');
    // "ghost" becomes a known peer (router probe) without a connection behind it.
    h.transport.inject([f('ghost'), EMPTY_FRAME]);
    await h.settle();
    a.inbox.drain();
    c.inbox.drain();
    a.send('ghost', 'RPC', ['{"id": 1}'], 'r9');
    expect(view(await a.inbox.nextMatching((m) => m.subsystem.toString() === 'error'))).toEqual([
      '',
      'alice',
      'r9',
      'error',
      '113',
      'No route to host',
      'ghost',
      'RPC',
    ]);
    expect(view(await c.inbox.next())).toEqual(['', '', '', 'peerlist', 'drop', 'ghost']);
    expect(dropped).toEqual(['ghost']);
    expect(h.router.stats().errors['113']).toBe(1);
  });

  it('sends no error when the unreachable peer is the sender itself or the target of a router reply', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    h.transport.inject([f('ghost'), f('ghost'), VIP_SIGNATURE, EMPTY_FRAME, f('x'), f('RPC')]);
    h.transport.inject([f('ghost2'), EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f('x'), f('hello'), f('hello')]);
    await h.settle();
    // Both came and went before alice was told of them: the peerlist outbox never mentions them.
    expect(a.inbox.drain().map(view)).toEqual([]);
    expect(h.router.stats().counters['peerlist coalesced']).toBe(4);
    expect(h.router.stats().errors).toEqual({});
  });

  it('answers a congested recipient with error 11 and keeps it', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    h.transport.setCongested('bob', true);
    a.send('bob', 'RPC', ['{}'], 'r2');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'r2', 'error', '11', 'Resource temporarily unavailable', 'bob', 'RPC']);
    expect(h.router.peers.has(f('bob'))).toBe(true);
  });

  it('drops a peer whose connection closed', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    await b.conn.close();
    expect(view(await a.inbox.next())).toEqual(['', '', '', 'peerlist', 'drop', 'bob']);
  });
});

describe('malformed input', () => {
  it('drops and counts every malformed frame set and keeps routing', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.raw([EMPTY_FRAME, f('VIP2'), EMPTY_FRAME, f('x'), f('ping')]);
    a.raw([EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f('x')]);
    a.raw([EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f('x'), EMPTY_FRAME]);
    a.raw([EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f('x'), f(' \t')]);
    a.raw([EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f('x'), f('ping'), Buffer.alloc((1 << 20) + 1)]);
    a.raw([]);
    a.send('', 'ping', ['ping'], 'alive');
    expect(view(await a.inbox.next())[2]).toBe('alive');
    expect(h.router.stats().dropped).toEqual({
      'bad VIP signature': 1,
      'too few frames': 2,
      'empty subsystem': 2,
      'oversize message': 1,
    });
  });

  it('registers the sender of a router probe without answering it', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    await h.settle();
    a.inbox.drain();
    h.transport.inject([f('prober'), EMPTY_FRAME]);
    expect(view(await a.inbox.next())).toEqual(['', '', '', 'peerlist', 'add', 'prober']);
    expect(h.router.peers.has(f('prober'))).toBe(true);
  });

  it('survives an extension that throws', async () => {
    const ext: RouterExtension = {
      subsystems: ['boom'],
      attach() {},
      handle: () => {
        throw new Error('bad');
      },
    };
    h = await routerHarness({}, [ext]);
    const a = await h.connect('alice');
    a.send('', 'boom', ['{'], 'b1');
    a.send('', 'ping', ['ping'], 'alive');
    expect(view(await a.inbox.next())[2]).toBe('alive');
    expect(h.router.stats().counters['subsystem handler failed']).toBe(1);
  });
});

describe('extensions', () => {
  it('attaches before routing, serves its subsystems, falls back to error 93, reports stats, closes on stop', async () => {
    let services: RouterServices | undefined;
    let closed = 0;
    const ext: RouterExtension = {
      subsystems: ['pubsub'],
      attach: (s) => {
        services = s;
      },
      handle: (m: RoutedMessage, userId: string) => {
        if (m.args[0]?.toString() !== 'publish') return false;
        void services?.deliver(m.sender, EMPTY_FRAME, textFrame(userId), m.id, m.subsystem, [textFrame('request_response')]);
        services?.count('publishes');
        return true;
      },
      stats: () => ({ subscriptions: 3 }),
      close: async () => {
        closed++;
      },
    };
    h = await routerHarness({ instanceName: 'inst' }, [ext]);
    expect(services?.instanceName).toBe('inst');
    const a = await h.connect('alice');
    a.send('', 'pubsub', ['publish'], 'p1');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'p1', 'pubsub', 'request_response']);
    a.send('', 'pubsub', ['bogus'], 'p2');
    expect(view(await a.inbox.next())).toEqual(['', '', 'p2', 'error', '93', 'Protocol not supported', '', 'pubsub']);
    expect(h.router.stats().counters.publishes).toBe(1);
    expect(h.router.stats().extensions).toEqual({ pubsub: { subscriptions: 3 } });
    await h.router.stop();
    await h.router.stop();
    expect(closed).toBe(1);
  });
});

describe('tracker', () => {
  it('counts nothing until enabled, then counts with string keys', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'ping', ['ping'], 'p');
    await a.inbox.next();
    expect(h.router.tracker.get().incoming.peer).toEqual({});
    h.router.tracker.enable();
    a.send('', 'ping', ['ping'], 'p');
    await a.inbox.next();
    a.send('', 'nope', [], 'n');
    await a.inbox.next();
    a.raw([EMPTY_FRAME, f('VIP2'), EMPTY_FRAME, f('x'), f('ping')]);
    a.send('', 'ping', ['ping'], 'p');
    await a.inbox.next();
    const s = h.router.tracker.get();
    expect(s.incoming.peer).toEqual({ alice: 3 });
    expect(s.incoming.subsystem).toEqual({ ping: 2, nope: 1 });
    expect(s.outgoing.subsystem).toEqual({ ping: 2, error: 1 });
    expect(s.error.error).toEqual({ '93': 1 });
    expect(s.unroutable.error).toEqual({ 'bad VIP signature': 1 });
    expect(typeof s.start).toBe('number');
    h.router.tracker.disable();
    expect(typeof h.router.tracker.get().end).toBe('number');
    h.router.tracker.reset();
    expect(h.router.tracker.get().incoming.peer).toEqual({});
  });
});
