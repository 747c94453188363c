// docs/protocol.md 13 "Router": each case against a real vip-platform process over tcp with CURVE.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openRawClient, RawVipClient, routerStats, startPlatform, waitFor, type PlatformProcess, type RouterStatsView } from '@vip/testing';

type Frames = Buffer[];
const text = (f: Frames): string[] => f.map((x) => x.toString('latin1'));
const isPeerlistEvent = (op: string, who: string) => (f: Frames) =>
  f[4]?.toString() === 'peerlist' && f[5]?.toString() === op && f[6]?.toString() === who;

let platform: PlatformProcess;
let n = 0;
/** A fresh identity per client so tests do not see each other's peers. */
const ident = (base: string) => `${base}.${++n}`;

async function client(identity: string): Promise<RawVipClient> {
  const c = await openRawClient(platform, identity);
  onTestFinished(() => c.close());
  return c;
}

const stats = (c: RawVipClient) => routerStats(c);

beforeAll(async () => {
  platform = await startPlatform({ instanceName: 'conformance' });
});
afterAll(async () => {
  await platform?.close();
});

describe('router conformance (docs/protocol.md 13)', () => {
  it('hello: welcome, 1.0, router identity, sender; user = sender', async () => {
    const id = ident('hello');
    const c = await client(id);
    const reply = text(await c.request('hello', ['hello'], 'h-1'));
    expect(reply.slice(0, 7)).toEqual(['', 'VIP1', id, 'h-1', 'hello', 'welcome', '1.0']);
    expect(reply[7]).toMatch(/^[0-9a-f-]{36}$/);
    expect(reply[8]).toBe(id);
    expect(reply).toHaveLength(9);
  });

  it('ping: pong followed by the echoed frames', async () => {
    const id = ident('ping');
    const c = await client(id);
    const binary = Buffer.from([0, 1, 0xff]);
    const reply = await c.request('ping', ['ping', 'abc', binary], 'p-1');
    expect(text(reply.slice(0, 6))).toEqual(['', 'VIP1', id, 'p-1', 'ping', 'pong']);
    expect(reply[6]?.toString()).toBe('abc');
    expect(reply[7]).toEqual(binary);
  });

  it('peerlist list contains every peer, including the requester', async () => {
    const a = await client(ident('list'));
    const bId = ident('list');
    await client(bId);
    const reply = text(await a.request('peerlist', ['list'], 'l-1'));
    expect(reply.slice(0, 6)).toEqual(['', 'VIP1', '', 'l-1', 'peerlist', 'listing']);
    expect(reply.slice(6)).toEqual(expect.arrayContaining([a.identity.toString(), bId]));
  });

  it('peerlist add/drop events go to known peers; the new peer is not told about itself', async () => {
    const a = await client(ident('watch'));
    const bId = ident('newcomer');
    const b = await client(bId);
    const add = text(await a.receiveMatching(isPeerlistEvent('add', bId)));
    expect(add).toEqual(['', 'VIP1', '', '', 'peerlist', 'add', bId]);
    expect(b.inbox.drain().filter(isPeerlistEvent('add', bId))).toEqual([]);
    await b.close();
    expect(text(await a.receiveMatching(isPeerlistEvent('drop', bId)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'drop', bId]);
  });

  it('query answers every docs/protocol.md 2.4 property with VOLTTRON encodings; unknown and missing -> empty frame', async () => {
    const c = await client(ident('query'));
    const ask = async (...args: string[]) => {
      const r = await c.request('query', args, `q.${++n}`);
      expect(text(r.slice(0, 3))).toEqual(['', 'VIP1', '']);
      expect(r[4]?.toString()).toBe('query');
      expect(r[5]).toHaveLength(0);
      return r[6] as Buffer;
    };
    expect((await ask('serverkey')).toString()).toBe(platform.serverkey);
    expect((await ask('instance-name')).toString()).toBe('conformance');
    expect((await ask('addresses')).toString()).toBe(`["${platform.tcpAddress}"]`);
    expect((await ask('local_address')).toString()).toMatch(/^ipc:\/\/@.*\/run\/vip\.socket$/);
    // the VOLTTRON release whose wire vip speaks (agents compare it as VOLTTRON's); vip's own is vip-version
    expect((await ask('platform-version')).toString()).toBe('9.0.4');
    expect((await ask('vip-version')).toString()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await ask('message-bus')).toString()).toBe('zmq');
    expect((await ask('agent-monitor-frequency')).toString('hex')).toBe('58020000');
    for (const empty of ['volttron-central-address', 'volttron-central-serverkey', 'bind-web-address', 'no-such-property']) {
      expect(await ask(empty), empty).toHaveLength(0);
    }
    expect(await ask()).toHaveLength(0);
  });

  it('an unknown router subsystem gets error 93 with an empty recipient arg', async () => {
    const c = await client(ident('unknown'));
    const reply = text(await c.request('nosuchsubsystem', ['x'], 'u-1'));
    expect(reply).toEqual(['', 'VIP1', '', 'u-1', 'error', '93', 'Protocol not supported', '', 'nosuchsubsystem']);
  });

  it('forwards as [sender, VIP1, user=sender, id, subsystem, args] with args byte-exact', async () => {
    const aId = ident('fwd-a');
    const bId = ident('fwd-b');
    const a = await client(aId);
    const b = await client(bId);
    // JSON-looking and binary frames: VOLTTRON would re-encode them (docs/protocol.md 1.4); we forward them as sent.
    const args = [Buffer.from('{"a":1}'), Buffer.from('5'), Buffer.from([0x00, 0xff, 0x80]), Buffer.alloc(0)];
    await a.sendVip(bId, 'RPC', args, { id: '1716900000.140234567', user: 'forged-user' });
    const got = await b.receiveMatching((f) => f[4]?.toString() === 'RPC');
    expect(text(got.slice(0, 5))).toEqual([aId, 'VIP1', aId, '1716900000.140234567', 'RPC']);
    expect(got.slice(5)).toEqual(args);
  });

  it('EHOSTUNREACH: error 113 with recipient and subsystem; the gone peer is dropped with a broadcast', async () => {
    const aId = ident('unreach-a');
    const bId = ident('unreach-b');
    const a = await client(aId);
    const b = await client(bId);
    const reply = text(await a.request('RPC', ['{}'], 'r-1', { recipient: 'no.such.peer' }));
    expect(reply).toEqual(['', 'VIP1', aId, 'r-1', 'error', '113', 'No route to host', 'no.such.peer', 'RPC']);
    await b.close();
    // The drop broadcast comes from the disconnect notification or from the failed delivery below, whichever is first.
    await a.sendVip(bId, 'RPC', ['{}'], { id: 'r-2' });
    expect(text(await a.receiveMatching(isPeerlistEvent('drop', bId)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'drop', bId]);
    const list = text(await a.request('peerlist', ['list'], 'l-2'));
    expect(list).not.toContain(bId);
  });

  it('sends no error when the unreachable peer is the one the router was answering', async () => {
    const watcher = await client(ident('noerr-watch'));
    const goneId = ident('noerr-gone');
    const gone = await client(goneId);
    const before = (await stats(watcher)).router.errors['113'] ?? 0;
    // A reply (and a message to itself) bound for a peer that has left: dropped, no error message anywhere.
    await gone.sendVip(goneId, 'RPC', ['{}'], { id: 'self' });
    await gone.sendVip('', 'ping', ['ping'], { id: 'p' });
    await gone.close();
    await watcher.receiveMatching(isPeerlistEvent('drop', goneId));
    await watcher.request('ping', ['ping'], 'sync');
    expect((await stats(watcher)).router.errors['113'] ?? 0).toBe(before);
  });

  it('an error message addressed to the router is swallowed', async () => {
    const c = await client(ident('err'));
    await c.sendVip('', 'error', ['113', 'No route to host', 'x', 'RPC'], { id: 'e-1' });
    const next = text(await c.request('ping', ['ping'], 'after-error'));
    expect(next[3]).toBe('after-error');
    expect(c.inbox.drain().filter((f) => f[3]?.toString() === 'e-1')).toEqual([]);
  });

  it('frame sets with < 6 frames, a bad signature or a blank subsystem are dropped and counted', async () => {
    const c = await client(ident('bad'));
    const before = await stats(c);
    await c.send(['', 'VIP2', '', 'raw-16', 'ping']);
    await c.send(['', 'VIP1', '', 'raw-17']);
    await c.send(['', 'VIP1', '', 'x', ' ']);
    const reply = text(await c.request('ping', ['ping'], 'still-alive'));
    expect(reply[3]).toBe('still-alive');
    const after = await stats(c);
    const d = (s: RouterStatsView, k: string) => s.router.dropped[k] ?? 0;
    expect(d(after, 'bad VIP signature') - d(before, 'bad VIP signature')).toBe(1);
    expect(d(after, 'too few frames') - d(before, 'too few frames')).toBe(1);
    expect(d(after, 'empty subsystem') - d(before, 'empty subsystem')).toBe(1);
  });

  it('a connecting peer is registered before it sends anything (router notify = probe)', async () => {
    const a = await client(ident('probe-watch'));
    const silentId = ident('silent');
    const silent = await openRawClient(platform, silentId, { hello: false });
    onTestFinished(() => silent.close());
    expect(text(await a.receiveMatching(isPeerlistEvent('add', silentId)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'add', silentId]);
  });

  it('agentstop drops the named peer and its subscriptions', async () => {
    const a = await client(ident('stop-watch'));
    const bId = ident('stopper');
    const b = await client(bId);
    const topic = `agentstop/${bId}`;
    const sub = await b.request('pubsub', ['subscribe', `{"prefix": "${topic}", "bus": "", "all_platforms": false}`], 's-1');
    expect(sub[6]?.toString('hex')).toBe('01');
    const publish = ['publish', `${topic}/x`, '{"bus": "", "headers": {}, "message": 1}'];
    expect((await a.request('pubsub', publish, 'pub-1'))[6]?.toString('hex')).toBe('01000000');
    await b.sendVip('', 'agentstop', [bId]);
    expect(text(await a.receiveMatching(isPeerlistEvent('drop', bId)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'drop', bId]);
    expect(text(await a.request('peerlist', ['list'], 'l-3'))).not.toContain(bId);
    // The subscription went with the peer: nobody receives the next publish.
    expect((await a.request('pubsub', publish, 'pub-2'))[6]?.toString('hex')).toBe('00000000');
  });

  it('quit from anyone but control gets error 93 and the platform keeps running', async () => {
    const c = await client(ident('quitter'));
    expect(text(await c.request('quit', [], 'q-1'))).toEqual(['', 'VIP1', '', 'q-1', 'error', '93', 'Protocol not supported', '', 'quit']);
    expect(text(await c.request('ping', ['ping'], 'q-2'))[5]).toBe('pong');
  });

  it('stats are readable while routing (sanity of the vip-router-stats query used above)', async () => {
    const c = await client(ident('stats'));
    const s = await waitFor(async () => {
      const v = await stats(c);
      return v.router.peers > 0 ? v : undefined;
    });
    expect(s.router.peers).toBeGreaterThan(0);
  });
});
