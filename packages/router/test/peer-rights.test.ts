import { afterEach, describe, expect, it } from 'vitest';
import type { RouterExtension, RouterServices } from '@vip/protocol';
import { rmqRouterOptions } from '@vip/rmq';
import { PlatformLinkSet, ReservedIdentities } from '../src/index.js';
import { routerHarness, view } from './harness.js';

// Rights decided on the user the transport proved (MemoryTransport's userId), never on frames.
let h: Awaited<ReturnType<typeof routerHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const isError = (m: { subsystem: Buffer }) => m.subsystem.toString() === 'error';

describe('agentstop', () => {
  it('a peer may stop itself; naming another is refused with error 13 and counted, the other stays', async () => {
    h = await routerHarness();
    const mallory = await h.connect('mallory', 'mallory');
    const victim = await h.connect('victim', 'victim');
    await h.settle();
    mallory.send('', 'agentstop', ['victim'], 's1');
    expect(view(await mallory.inbox.nextMatching(isError))).toEqual([
      '',
      'mallory',
      's1',
      'error',
      '13',
      'Permission denied: agentstop of another peer is accepted only from control',
      '',
      'agentstop',
    ]);
    expect(h.router.peers.has(Buffer.from('victim'))).toBe(true);
    expect(h.router.stats().counters['agentstop refused']).toBe(1);
    expect(h.router.stats().errors['13']).toBe(1);
    victim.send('', 'agentstop', ['victim'], '');
    await h.settle();
    expect(h.router.peers.has(Buffer.from('victim'))).toBe(false);
  });

  it('the control service (its proven user) may stop another; a peer merely named control may not', async () => {
    h = await routerHarness({ reservedIdentities: new ReservedIdentities({ control: ['control'] }) });
    const fakeControl = await h.connect('control.fake', 'mallory');
    const ops = await h.connect('ops', 'control'); // another key admitted as user control
    await h.connect('victim', 'victim');
    await h.settle();
    fakeControl.send('', 'agentstop', ['victim'], 's1');
    await fakeControl.inbox.nextMatching(isError);
    expect(h.router.peers.has(Buffer.from('victim'))).toBe(true);
    ops.send('', 'agentstop', ['victim'], 's2');
    await h.settle();
    expect(h.router.peers.has(Buffer.from('victim'))).toBe(false);
  });
});

describe('quit', () => {
  it('is honoured from the control user only: the identity control held by another user cannot quit', async () => {
    let quits = 0;
    h = await routerHarness({ onQuit: () => quits++ });
    // No reserved identities: a peer routing as `control` with another proven user stays unprivileged.
    const impostor = await h.connect('control', 'mallory');
    impostor.send('', 'quit', [], 'q1');
    expect(view(await impostor.inbox.nextMatching(isError)).slice(3)).toEqual(['error', '93', 'Protocol not supported', '', 'quit']);
    expect(quits).toBe(0);
    expect(h.router.stats().counters['quit refused']).toBe(1);
  });

  it('on the RMQ router the control user is <instance>.control by default', async () => {
    let quits = 0;
    h = await routerHarness({ onQuit: () => quits++, ...rmqRouterOptions('v1'), instanceName: 'v1' });
    const control = await h.connect('control', 'v1.control');
    control.send('', 'quit', [], 'q');
    await h.settle();
    expect(quits).toBe(1);
  });
});

describe('reserved identities', () => {
  it('routes nothing from a reserved identity held by another user, and delivers nothing to it', async () => {
    const reserved = new ReservedIdentities({ 'platform.auth': ['platform.auth'], 'config.store': [] });
    h = await routerHarness({ reservedIdentities: reserved });
    const alice = await h.connect('alice', 'alice');
    const impostor = await h.connect('config.store', 'mallory');
    impostor.send('', 'hello', ['hello'], 'h1');
    impostor.send('alice', 'RPC', ['{"jsonrpc": "2.0", "id": "x", "result": 1}'], 'r1');
    alice.send('config.store', 'RPC', ['{}'], 'to-store');
    expect(view(await alice.inbox.nextMatching(isError))).toEqual([
      '',
      'alice',
      'to-store',
      'error',
      '113',
      'No route to host',
      'config.store',
      'RPC',
    ]);
    await h.settle();
    expect(impostor.inbox.drain()).toEqual([]);
    expect(alice.inbox.drain()).toEqual([]);
    expect(h.router.peers.has(Buffer.from('config.store'))).toBe(false);
    expect(h.router.stats().dropped['reserved identity']).toBeGreaterThanOrEqual(2);
    expect(h.router.stats().counters['reserved identity unproven']).toBe(1);
  });

  it('the user it is reserved for routes and is reached as usual; a table change applies to the next message', async () => {
    const reserved = new ReservedIdentities({ 'platform.auth': ['platform.auth'] });
    h = await routerHarness({ reservedIdentities: reserved });
    const alice = await h.connect('alice', 'alice');
    const auth = await h.connect('platform.auth', 'platform.auth');
    auth.send('', 'hello', ['hello'], 'h1');
    expect(view(await auth.inbox.next())[3]).toBe('hello');
    alice.send('platform.auth', 'RPC', ['{}'], 'ok');
    expect(view(await auth.inbox.next())).toEqual(['alice', 'alice', 'ok', 'RPC', '{}']);
    reserved.set({ 'platform.auth': ['someone.else'] });
    alice.send('platform.auth', 'RPC', ['{}'], 'now-refused');
    expect(view(await alice.inbox.nextMatching(isError))[4]).toBe('113');
  });
});

describe('platform links', () => {
  it('extensions see isPlatformLink for the proven user only', async () => {
    let services: RouterServices | undefined;
    const ext: RouterExtension = {
      subsystems: ['x'],
      attach: (s) => {
        services = s;
      },
      handle: () => true,
    };
    const links = new PlatformLinkSet();
    h = await routerHarness({ platformLinks: links }, [ext]);
    expect(services?.isPlatformLink('remote.platform')).toBe(false);
    links.add('remote.platform');
    expect(services?.isPlatformLink('remote.platform')).toBe(true);
    expect(services?.isPlatformLink('')).toBe(false);
    links.delete('remote.platform');
    expect(services?.isPlatformLink('remote.platform')).toBe(false);
  });
});
