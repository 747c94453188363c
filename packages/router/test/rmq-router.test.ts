import { afterEach, describe, expect, it } from 'vitest';
import { rmqRouterOptions } from '@vip/rmq';
import { routerHarness, view } from './harness.js';

// The router as a RabbitMQ platform runs it: @vip/rmq's RmqPeerlistExtension takes peerlist and
// error over (rmqRouterOptions), identity `router`, control's user `<instance>.control`.
type Harness = Awaited<ReturnType<typeof routerHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rmqRouter = () => routerHarness({ ...rmqRouterOptions('v1'), instanceName: 'v1' });

describe('RMQ router subsystems (rmqRouterOptions: RmqPeerlistExtension, docs/protocol.md 7.5)', () => {
  it('welcomes as `router` and announces new peers with their bus', async () => {
    h = await rmqRouter();
    const a = await h.connect('alice');
    a.send('', 'hello', ['hello'], 'h1');
    expect(view(await a.inbox.next())).toEqual(['', 'alice', 'h1', 'hello', 'welcome', '1.0', 'router', 'alice']);
    const b = await h.connect('bob');
    b.send('', 'ping', ['x']);
    expect(view(await a.inbox.next())).toEqual(['', '', '', 'peerlist', 'add', 'bob', 'rmq']);
  });

  it("lists peers with their bus; proxy add/drop update the table, echo, and reach the proxy's peers too", async () => {
    h = await rmqRouter();
    const proxy = await h.connect('zmq.proxy.router', 'v1.zmq.proxy.router');
    const a = await h.connect('alice');
    proxy.send('', 'hello', ['hello']);
    a.send('', 'hello', ['hello']);
    await proxy.inbox.nextMatching((m) => view(m)[3] === 'hello');
    await a.inbox.nextMatching((m) => view(m)[3] === 'hello');
    proxy.send('', 'peerlist', ['add', 'zagent', 'zmq'], 'a1');
    expect(view(await proxy.inbox.nextMatching((m) => view(m)[2] === 'a1'))).toEqual(['', '', 'a1', 'peerlist', 'add', 'zagent', 'zmq']);
    expect(view(await a.inbox.nextMatching((m) => view(m)[4] === 'add' && view(m)[5] === 'zagent'))).toEqual([
      '',
      '',
      '',
      'peerlist',
      'add',
      'zagent',
      'zmq',
    ]);
    a.send('', 'peerlist', ['list_with_messagebus'], 'l1');
    const listing = view(await a.inbox.nextMatching((m) => view(m)[2] === 'l1'));
    expect(listing.slice(3, 5)).toEqual(['peerlist', 'listing_with_messagebus']);
    expect(JSON.parse(listing[5]!)).toEqual({ 'zmq.proxy.router': 'rmq', alice: 'rmq', zagent: 'zmq' });
    // a new RMQ peer is announced to the proxy's peers too (vip's proxy holds a queue for each)
    const z = await h.connect('zagent');
    await h.connect('carol');
    h.peers.at(-1)!.send('', 'ping', []);
    expect(view(await z.inbox.nextMatching((m) => view(m)[4] === 'add' && view(m)[5] === 'carol'))).toEqual([
      '',
      '',
      '',
      'peerlist',
      'add',
      'carol',
      'rmq',
    ]);
    expect(h.router.peers.has(Buffer.from('zagent'))).toBe(true);
    proxy.send('', 'peerlist', ['drop', 'zagent', 'zmq'], 'd1');
    await a.inbox.nextMatching((m) => view(m)[4] === 'drop' && view(m)[5] === 'zagent');
    expect(h.router.peers.has(Buffer.from('zagent'))).toBe(false);
  });

  it('drops the recipient of an error 113 (bare or <instance>.<identity>), without a reply', async () => {
    h = await rmqRouter();
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    const c = await h.connect('carol');
    for (const p of [a, b, c]) p.send('', 'ping', []);
    await h.settle();
    a.send('', 'error', ['113', 'No route to host', 'v1.bob', 'RPC']);
    await a.inbox.nextMatching((m) => view(m)[4] === 'drop' && view(m)[5] === 'bob');
    a.send('', 'error', ['113', 'No route to host', 'carol', 'RPC']);
    await a.inbox.nextMatching((m) => view(m)[4] === 'drop' && view(m)[5] === 'carol');
    expect(h.router.stats().counters['error 113: recipient dropped']).toBe(2);
    a.send('', 'error', ['11', 'again', 'alice', 'RPC']);
    await h.settle();
    expect(h.router.stats().counters['error to router ignored']).toBe(1);
  });

  it('answers an unknown subsystem with a well-formed error 93 and a bad add with an error', async () => {
    h = await rmqRouter();
    const a = await h.connect('alice');
    a.send('', 'nosuch', ['x'], 'u1');
    expect(view(await a.inbox.nextMatching((m) => view(m)[2] === 'u1'))).toEqual([
      '',
      '',
      'u1',
      'error',
      '93',
      'Protocol not supported',
      '',
      'nosuch',
    ]);
    const proxy = await h.connect('zmq.proxy.router', 'v1.zmq.proxy.router');
    proxy.send('', 'peerlist', ['add'], 'a2');
    expect(view(await proxy.inbox.nextMatching((m) => view(m)[2] === 'a2')).slice(4)).toEqual(['error', 'missing peer']);
  });

  it("takes peerlist add/drop from the proxy router's proven user only (VOLTTRON: from anyone)", async () => {
    h = await rmqRouter();
    const a = await h.connect('alice', 'v1.alice');
    const fake = await h.connect('zmq.proxy.router', 'v1.alice'); // the proxy's identity, another user
    a.send('', 'peerlist', ['add', 'ghost', 'zmq'], 'a1');
    expect(view(await a.inbox.nextMatching((m) => view(m)[2] === 'a1')).slice(4, 5)).toEqual(['error']);
    fake.send('', 'peerlist', ['add', 'ghost', 'zmq'], 'a2');
    expect(view(await fake.inbox.nextMatching((m) => view(m)[2] === 'a2')).slice(4, 5)).toEqual(['error']);
    a.send('', 'peerlist', ['drop', 'alice', 'rmq'], 'd1');
    await a.inbox.nextMatching((m) => view(m)[2] === 'd1');
    expect(h.router.peers.has(Buffer.from('ghost'))).toBe(false);
    expect(h.router.peers.has(Buffer.from('alice'))).toBe(true);
    expect(h.router.stats().counters).toMatchObject({ 'peerlist add refused': 2, 'peerlist drop refused': 1 });
  });

  it('leaves ZMQ routers unchanged: list_with_messagebus is an unknown operation, events have two args', async () => {
    h = await routerHarness();
    const a = await h.connect('alice');
    a.send('', 'peerlist', ['list_with_messagebus'], 'l1');
    expect(view(await a.inbox.nextMatching((m) => view(m)[2] === 'l1')).slice(4)).toEqual(['error', 'unknown operation']);
    const b = await h.connect('bob');
    b.send('', 'ping', []);
    expect(view(await a.inbox.nextMatching((m) => view(m)[4] === 'add'))).toEqual(['', '', '', 'peerlist', 'add', 'bob']);
  });
});

describe("agentstop on the RMQ router: who may stop whom (the router's rule, on the user RmqRouterTransport hands over)", () => {
  const stopped = (h: Harness, id: string) => !h.router.peers.has(Buffer.from(id));
  it("where proof is required: a proven or legacy sender stops only itself, control's broker user anyone, an unproven sender no one", async () => {
    h = await routerHarness({ ...rmqRouterOptions('v1'), instanceName: 'v1', requiresProof: true });
    const alice = await h.connect('alice', 'v1.alice');
    const py = await h.connect('py.agent', 'v1.py.agent'); // a legacy peer: its own user, unproven
    const anonymous = await h.connect('victim'); // no user_id where one is required: no user
    const control = await h.connect('control', 'v1.control'); // proven by the platform's user
    await h.connect('bob', 'v1.bob');
    await h.connect('carol', 'v1.carol');
    await h.settle();
    alice.send('', 'agentstop', ['bob'], 'a1');
    py.send('', 'agentstop', ['alice'], 'p1');
    anonymous.send('', 'agentstop', ['victim'], 'v1');
    alice.send('', 'agentstop', [], 'a2');
    await h.settle();
    expect(['bob', 'alice', 'victim'].filter((id) => stopped(h!, id))).toEqual([]);
    expect(h.router.stats().counters).toMatchObject({ 'agentstop refused': 3, 'agentstop unproven': 1, 'agentstop without identity': 1 });
    expect(h.router.stats().errors['13']).toBe(2); // alice and py are told; the unproven claim gets no answer
    control.send('', 'agentstop', ['bob'], 'c1');
    py.send('', 'agentstop', ['py.agent'], 'p2');
    alice.send('', 'agentstop', ['alice'], 'a3');
    await h.settle();
    expect(['bob', 'py.agent', 'alice'].filter((id) => stopped(h!, id))).toEqual(['bob', 'py.agent', 'alice']);
  });

  it('on a shared login (nothing proven, the header believed): the same rule on the user it asserts', async () => {
    h = await routerHarness({ ...rmqRouterOptions('v1'), instanceName: 'v1' });
    const alice = await h.connect('alice', 'v1.alice');
    await h.connect('bob', 'v1.bob');
    await h.settle();
    alice.send('', 'agentstop', ['bob'], 'a1');
    await alice.inbox.nextMatching((m) => m.subsystem.toString() === 'error');
    expect(stopped(h, 'bob')).toBe(false);
    alice.send('', 'agentstop', ['alice'], 'a2');
    await h.settle();
    expect(stopped(h, 'alice')).toBe(true);
  });
});
