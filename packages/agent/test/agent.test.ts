import { afterEach, describe, expect, it, vi } from 'vitest';
import { frameText, PeerUnreachableError, textFrame, UnknownSubsystemError, type VipMessage } from '@vip/protocol';
import { Agent, HelloTimeoutError } from '../src/index.js';
import { MemoryRouter } from '@vip/testing';

const agents: Agent[] = [];
function agent(router: MemoryRouter, identity: string, extra: Partial<ConstructorParameters<typeof Agent>[0]> = {}): Agent {
  const a = new Agent({ identity, connection: () => router.connect(identity), ...extra });
  agents.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const text = (frames: readonly Buffer[]) => frames.map((b) => frameText(b));

describe('Agent lifecycle', () => {
  it('says hello with id connect.hello.0, fires connected and onStart, sends agentstop on stop', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'a1');
    const events: string[] = [];
    a.on('connected', () => events.push('connected'));
    a.on('disconnected', () => events.push('disconnected'));
    a.onStart(() => void events.push('start'));
    a.onStop(() => void events.push('stop'));
    await a.start();
    expect(a.connected).toBe(true);
    expect(a.routerIdentity).toBe('memory-router');
    const hello = router.sent[0]!.message;
    expect([frameText(hello.peer), frameText(hello.id), frameText(hello.subsystem), ...text(hello.args)]).toEqual([
      '',
      'connect.hello.0',
      'hello',
      'hello',
    ]);
    await a.stop();
    await a.stop();
    const last = router.sent.at(-1)!.message;
    expect([frameText(last.peer), frameText(last.id), frameText(last.subsystem), ...text(last.args)]).toEqual(['', '', 'agentstop', 'a1']);
    expect(events).toEqual(['connected', 'start', 'stop', 'disconnected']);
  });

  it('fails start with HelloTimeoutError naming the likely causes', async () => {
    const router = new MemoryRouter();
    router.welcome = false;
    const a = agent(router, 'lonely', { helloTimeoutMs: 50, target: 'tcp://127.0.0.1:1' });
    const err = await a.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelloTimeoutError);
    expect((err as Error).message).toMatch(/not running[\s\S]*auth\.json[\s\S]*already used/);
    expect(a.connected).toBe(false);
  });

  it('reopens its connection when the first hello gets no welcome (opt-in), and is welcomed on the new one', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'reopener', { helloTimeoutMs: 1_000, reopenAfterHelloTimeout: true });
    const started = a.start(); // makes its connection before its first await
    router.unattributed.add(router.connections.at(-1)!);
    await started;
    const mine = router.connections.filter((c) => c.identity === 'reopener');
    expect(mine).toHaveLength(2);
    expect(mine[0]!.closed).toBe(true);
    expect(a.connected).toBe(true);
    expect(await a.ping.ping()).toEqual([]);
  });

  it('without reopenAfterHelloTimeout, an unanswered first hello fails start after helloTimeoutMs on the one connection', async () => {
    const router = new MemoryRouter();
    router.welcome = false;
    const a = agent(router, 'stays', { helloTimeoutMs: 100 });
    await expect(a.start()).rejects.toBeInstanceOf(HelloTimeoutError);
    expect(router.connections.filter((c) => c.identity === 'stays')).toHaveLength(1);
  });

  it('after a reconnect whose connection the router never answers, reopens it (opt-in) instead of saying hello forever', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'rejoin', { helloTimeoutMs: 2_000, reopenAfterHelloTimeout: true });
    await a.start();
    const reconnected = new Promise<void>((resolve) => a.on('connected', () => resolve()));
    router.unattributed.add(router.connections.find((c) => c.identity === 'rejoin')!);
    router.restart();
    await reconnected;
    const mine = router.connections.filter((c) => c.identity === 'rejoin');
    expect(mine).toHaveLength(2);
    expect(mine[0]!.closed).toBe(true);
    expect(await a.ping.ping()).toEqual([]);
  });

  it('re-hellos after a reconnect and fires disconnected/connected', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'a2');
    await a.start();
    const seen: string[] = [];
    const reconnected = new Promise<void>((resolve) => a.on('connected', () => resolve()));
    a.on('disconnected', () => seen.push('disconnected'));
    router.restart();
    await reconnected;
    expect(seen).toEqual(['disconnected']);
    const hellos = router.sent.filter((s) => frameText(s.message.subsystem) === 'hello').map((s) => frameText(s.message.id));
    expect(hellos).toEqual(['connect.hello.0', 'connect.hello.1']);
    expect(await a.ping.ping()).toEqual([]);
  });

  it('after a reconnect whose hello is lost, hellos again well before helloTimeoutMs', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'a5', { helloTimeoutMs: 120_000 });
    await a.start();
    router.welcome = false; // the router is back but the first re-hello goes unanswered
    router.restart();
    await vi.waitFor(() =>
      expect(router.sent.filter((s) => s.from === 'a5' && frameText(s.message.subsystem) === 'hello')).toHaveLength(2),
    );
    router.welcome = true;
    // with the 120 s handshake timeout as the only wait, this would be two minutes away
    await vi.waitFor(() => expect(a.connected).toBe(true), { timeout: 15_000, interval: 50 });
    const hellos = router.sent
      .filter((s) => s.from === 'a5' && frameText(s.message.subsystem) === 'hello')
      .map((s) => frameText(s.message.id));
    expect(hellos).toEqual(['connect.hello.0', 'connect.hello.1', 'connect.hello.2']);
  });

  it('says hello again when the transport reconnects during the first handshake', async () => {
    const router = new MemoryRouter();
    router.welcome = false; // the first hello goes unanswered (lost with the old connection)
    const a = agent(router, 'a4', { helloTimeoutMs: 5_000 });
    const starting = a.start();
    await vi.waitFor(() => expect(router.sent.some((s) => s.from === 'a4')).toBe(true));
    router.welcome = true;
    router.restart();
    await starting;
    expect(a.connected).toBe(true);
    const hellos = router.sent
      .filter((s) => s.from === 'a4' && frameText(s.message.subsystem) === 'hello')
      .map((s) => frameText(s.message.id));
    expect(hellos).toEqual(['connect.hello.0', 'connect.hello.1']);
  });

  it('start after close rejects; stop before start is a no-op', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'a3');
    await a.stop();
    await a.close();
    await expect(a.start()).rejects.toMatchObject({ code: 'VIP_CLOSED' });
  });
});

describe('router and peer subsystems', () => {
  it("answers the router's liveness ping (peer '') with pong to the router, same id", async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'probed');
    await a.start();
    router.deliverAs('', 'probed', {
      peer: textFrame(''),
      user: textFrame(''),
      id: textFrame('vip.router.probe'),
      subsystem: textFrame('ping'),
      args: [textFrame('ping')],
    });
    await vi.waitFor(() => expect(router.sent.some((s) => frameText(s.message.id) === 'vip.router.probe')).toBe(true));
    const pong = router.sent.find((s) => frameText(s.message.id) === 'vip.router.probe')!.message;
    expect([frameText(pong.peer), frameText(pong.subsystem), ...text(pong.args)]).toEqual(['', 'ping', 'pong']);
  });

  it('pings the router and a peer, lists peers, queries properties', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'p1');
    const b = agent(router, 'p2');
    await a.start();
    await b.start();
    expect(await a.ping.ping('', ['x', 'y'])).toEqual(['x', 'y']);
    expect(await a.ping.ping('p2', ['data'])).toEqual(['data']);
    expect((await a.peerlist.list()).sort()).toEqual(['p1', 'p2']);
    expect(await a.query.query('instance-name')).toBe('memory');
    expect(await a.query.query('agent-monitor-frequency')).toBe(600);
    expect(await a.query.query('nothing')).toBeNull();
  });

  it('maps error 113 to PeerUnreachableError on the pending request', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'e1');
    await a.start();
    const err = await a.ping.ping('ghost').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerUnreachableError);
    expect(err).toMatchObject({ peer: 'ghost', subsystem: 'ping', errnum: 113 });
    expect(a.stats()['errors.in']).toBe(1);
  });

  it('answers an unknown subsystem from a peer with error 93 and maps it on the caller', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'u1');
    const b = agent(router, 'u2');
    await a.start();
    await b.start();
    const err = await a.core.request({ peer: 'u2', subsystem: 'nosuch', args: ['x'] }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownSubsystemError);
    expect(b.stats()['messages.unknown_subsystem']).toBe(1);
    const reply = router.sent.find((s) => s.from === 'u2' && frameText(s.message.subsystem) === 'error')!.message;
    expect(text(reply.args)).toEqual(['93', 'Protocol not supported', 'u2', 'nosuch']);
  });

  it('answers peer hellos with welcome', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'h1');
    const b = agent(router, 'h2');
    await a.start();
    await b.start();
    const reply = await a.core.request<VipMessage>({ peer: 'h2', subsystem: 'hello', args: ['hello'] }, { timeoutMs: 2000 });
    expect(text(reply.args)).toEqual(['welcome', '1.0', 'h2', 'h1']);
    expect(frameText(reply.peer)).toBe('h2');
    expect(a.connected).toBe(true);
  });

  it('fires peerlist add/drop listeners and ignores malformed error messages', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'l1');
    await a.start();
    const got: string[] = [];
    a.peerlist.onAdd((p) => got.push(`add:${p}`));
    a.peerlist.onDrop((p) => got.push(`drop:${p}`));
    const conn = router.connect('x');
    conn.deliver({
      peer: Buffer.alloc(0),
      user: Buffer.alloc(0),
      id: Buffer.alloc(0),
      subsystem: textFrame('peerlist'),
      args: [textFrame('add'), textFrame('z')],
    });
    expect(got).toEqual([]); // a connection not attached to the agent: nothing
    await a.core.send({ peer: 'l1', subsystem: 'error', args: ['1'] });
    await a.ping.ping();
    expect(a.stats()['errors.malformed']).toBe(1);
  });
});

describe('requests to a peer the router drops (peerlist drop)', () => {
  const rpcSent = (router: MemoryRouter, method: string) =>
    router.sent.some((s) => frameText(s.message.subsystem) === 'RPC' && text(s.message.args).join().includes(`"${method}"`));

  it('fail at once with PeerUnreachableError; a request made after the drop is not failed by it', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'caller');
    const b = agent(router, 'callee');
    await a.start();
    await b.start();
    b.rpc.export('hang', () => new Promise(() => undefined));
    b.rpc.export('echo', (x: unknown) => x);
    const call = a.rpc.request('callee', 'hang', { timeoutMs: 60_000 });
    const batch = a.rpc.batch('callee', [{ method: 'hang' }], { timeoutMs: 60_000 });
    const ping = a.ping.ping(''); // to the router: never touched by a peer's drop
    await vi.waitFor(() => expect(rpcSent(router, 'hang')).toBe(true));
    router.announce('drop', 'callee');
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerUnreachableError);
    expect(err).toMatchObject({ code: 'VIP_UNREACHABLE', peer: 'callee', subsystem: 'RPC' });
    expect((await batch)[0]).toMatchObject({ status: 'rejected', reason: expect.any(PeerUnreachableError) });
    await expect(ping).resolves.toEqual([]);
    // The peer is back (here: it never left the memory router): a call made after the drop goes through.
    await expect(a.rpc.call('callee', 'echo', 5)).resolves.toBe(5);
    expect(a.stats()['requests.failed_peer_gone']).toBe(2);
  });

  it('ignores a peerlist drop that a peer (not the router) sends', async () => {
    const router = new MemoryRouter();
    const a = agent(router, 'victim');
    const b = agent(router, 'server');
    await a.start();
    await b.start();
    let answer!: (v: string) => void;
    b.rpc.export('slow', () => new Promise<string>((resolve) => (answer = resolve)));
    const dropped: string[] = [];
    a.peerlist.onDrop((p) => dropped.push(p));
    const call = a.rpc.call('server', 'slow');
    await vi.waitFor(() => expect(answer).toBeDefined());
    const forger = router.connect('forger');
    await forger.open();
    forger.deliverTo(a, {
      peer: EMPTY,
      user: EMPTY,
      id: EMPTY,
      subsystem: textFrame('peerlist'),
      args: [textFrame('drop'), textFrame('server')],
    });
    await a.ping.ping(); // the forged message was handled before this reply
    expect(dropped).toEqual([]);
    answer('done');
    await expect(call).resolves.toBe('done');
  });
});

const EMPTY = Buffer.alloc(0);
