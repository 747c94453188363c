import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_FRAME, textFrame, type Frame, type RouterExtension, type RouterServices } from '@vip/protocol';
import { HelloExtension } from '../src/index.js';
import { routerHarness, view } from './harness.js';

let h: Awaited<ReturnType<typeof routerHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the registry', () => {
  it('an extension registered for a subsystem takes it over; one left serving nothing loses its hooks too', async () => {
    const seen: string[] = [];
    const first: RouterExtension = {
      subsystems: ['x'],
      attach() {},
      handle: () => {
        seen.push('first');
        return true;
      },
      peerAdded: (p) => seen.push(`first added ${p.toString()}`),
    };
    let services: RouterServices | undefined;
    const second: RouterExtension = {
      subsystems: ['x', 'peerlist'],
      attach: (s) => {
        services = s;
      },
      handle: (m) => {
        seen.push(`second ${m.subsystem.toString()}`);
        void services?.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, [textFrame('mine')]);
        return true;
      },
    };
    h = await routerHarness({}, [first, second]);
    const a = await h.connect('alice');
    a.send('', 'x', [], 'x1');
    a.send('', 'peerlist', ['list'], 'l1');
    expect(view(await a.inbox.next())).toEqual(['', '', 'x1', 'x', 'mine']);
    expect(view(await a.inbox.next())).toEqual(['', '', 'l1', 'peerlist', 'mine']);
    expect(seen).toEqual(['second x', 'second peerlist']);
    // the router's own peerlist (its events included) is gone with the subsystem
    await h.connect('bob');
    await h.settle();
    expect(a.inbox.drain()).toEqual([]);
    expect(h.router.extensions).not.toContain(first);
  });

  it('an extension serving no subsystem sees peers come and go once each, in order', async () => {
    const events: string[] = [];
    const watcher: RouterExtension = {
      subsystems: [],
      attach() {},
      handle: () => false,
      peerAdded: (p) => events.push(`+${p.toString()}`),
      peerDropped: (p) => events.push(`-${p.toString()}`),
    };
    h = await routerHarness({}, [watcher]);
    const a = await h.connect('alice');
    const b = await h.connect('bob');
    await h.settle();
    b.send('', 'agentstop', ['bob'], '');
    await h.settle();
    await b.conn.close();
    await a.conn.close();
    await h.settle();
    expect(events).toEqual(['+alice', '+bob', '-bob', '-alice']);
  });

  it('a hello whose welcome waits (beforeWelcome) keeps later router-addressed messages behind it; forwards do not wait', async () => {
    let release: (() => void) | undefined;
    const checked: string[] = [];
    const hello = new HelloExtension({
      beforeWelcome: (sender: Frame, userId: string) => {
        checked.push(`${sender.toString()}/${userId}`);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    h = await routerHarness({}, [hello]);
    const a = await h.connect('alice', 'user-a');
    const b = await h.connect('bob');
    await h.settle();
    a.inbox.drain();
    a.send('', 'hello', ['hello'], 'h1');
    a.send('', 'ping', ['ping'], 'p1');
    b.send('alice', 'RPC', ['{}'], 'r1');
    expect(view(await a.inbox.next())).toEqual(['bob', 'bob', 'r1', 'RPC', '{}']);
    expect(checked).toEqual(['alice/user-a']);
    release?.();
    expect(view(await a.inbox.next())).toEqual(['', 'user-a', 'h1', 'hello', 'welcome', '1.0', 'router-id', 'alice']);
    expect(view(await a.inbox.next())).toEqual(['', 'user-a', 'p1', 'ping', 'pong']);
  });
});

describe('a sender the bus required a proof of and did not get (RouterTransport.requiresProof)', () => {
  it('has no user for extensions; a proven sender has its user', async () => {
    const users: string[] = [];
    const ext: RouterExtension = {
      subsystems: ['x'],
      attach() {},
      handle: (_m, userId) => {
        users.push(userId);
        return true;
      },
    };
    h = await routerHarness({ requiresProof: true }, [ext]);
    const anonymous = await h.connect('alice');
    const proven = await h.connect('bob', 'v1.bob');
    anonymous.send('', 'x', []);
    proven.send('', 'x', []);
    await h.settle();
    expect(users).toEqual(['', 'v1.bob']);
  });

  it('may stop no one, not even the identity it claims: refused without a reply, counted', async () => {
    h = await routerHarness({ requiresProof: true });
    const claimant = await h.connect('victim');
    const other = await h.connect('other', 'v1.other');
    await h.settle();
    claimant.inbox.drain();
    claimant.send('', 'agentstop', ['victim'], 's1');
    other.send('', 'ping', [], 'after');
    await other.inbox.nextMatching((m) => m.id.toString() === 'after');
    await h.settle();
    expect(h.router.peers.has(textFrame('victim'))).toBe(true);
    expect(claimant.inbox.drain()).toEqual([]);
    expect(h.router.stats().counters).toMatchObject({ 'agentstop refused': 1, 'agentstop unproven': 1 });
    other.send('', 'agentstop', ['other'], '');
    await h.settle();
    expect(h.router.peers.has(textFrame('other'))).toBe(false);
  });
});
