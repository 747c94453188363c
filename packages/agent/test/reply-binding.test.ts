import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { frameText, textFrame, type VipMessage } from '@vip/protocol';
import { waitFor, MemoryRouter, type MemoryRouterConnection } from '@vip/testing';
import { Agent } from '../src/index.js';

// A reply settles a request only when it comes from the peer the request went to: a peer that
// saw or guessed the id (here: read off the router's log) cannot answer in its place.
let router: MemoryRouter;
let victim: Agent;
let auth: Agent;
let mallory: MemoryRouterConnection;
let malloryInbox: VipMessage[];

const f = textFrame;
const sentBy = (identity: string, subsystem: string): VipMessage[] =>
  router.sent.filter((s) => s.from === identity && frameText(s.message.subsystem) === subsystem).map((s) => s.message);

beforeEach(async () => {
  router = new MemoryRouter();
  victim = new Agent({
    identity: 'thermostat',
    connection: router.connect('thermostat'),
    rpc: { timeoutMs: 2_000 },
    requestTimeoutMs: 2_000,
  });
  victim.rpc.export('set_point', (v: number) => v, { params: ['value'], allow: 'can_set' });
  await victim.start();
  mallory = router.connect('mallory');
  malloryInbox = [];
  mallory.onMessage((m) => malloryInbox.push(m));
  await mallory.open();
});
afterEach(async () => {
  await victim.close();
  await auth?.close();
});

describe('replies bound to the peer asked', () => {
  it('a forged get_user_to_capabilities response with the right id does not plant a capability map', async () => {
    // platform.auth answers late: mallory's forgery, with the exact id, arrives first.
    let answer: (() => void) | undefined;
    auth = new Agent({ identity: 'platform.auth', connection: router.connect('platform.auth') });
    auth.rpc.export('get_user_to_capabilities', () => new Promise((resolve) => (answer = () => resolve({ ui: { can_set: null } }))));
    await auth.start();
    const ui = new Agent({ identity: 'ui', connection: router.connect('ui'), rpc: { timeoutMs: 2_000 } });
    await ui.start();
    try {
      mallory.deliverTo(victim, {
        peer: f('thermostat'),
        user: f('mallory'),
        id: f('c1'),
        subsystem: f('RPC'),
        args: [f('{"jsonrpc": "2.0", "method": "set_point", "params": [99], "id": "c1"}')],
      });
      await waitUntil(() => sentBy('thermostat', 'RPC').some((m) => frameText(m.peer) === 'platform.auth'));
      const request = JSON.parse(frameText(sentBy('thermostat', 'RPC').find((m) => frameText(m.peer) === 'platform.auth')!.args[0]!)) as {
        id: string;
      };
      mallory.deliverTo(victim, {
        peer: f('thermostat'),
        user: f('mallory'),
        id: f(request.id),
        subsystem: f('RPC'),
        args: [f(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: { mallory: { can_set: null } } }))],
      });
      await waitUntil(() => (victim.stats()['replies.wrong_peer'] ?? 0) === 1);
      answer?.();
      // mallory's call was checked against the real map: refused.
      await waitUntil(() => malloryInbox.some((m) => frameText(m.id) === 'c1'));
      const reply = malloryInbox.find((m) => frameText(m.id) === 'c1')!;
      expect(frameText(reply.args[0]!)).toContain("requires capabilities {'can_set'}, but capability None was provided for user mallory");
      expect(await ui.rpc.call('thermostat', 'set_point', 21)).toBe(21);
    } finally {
      await ui.close();
    }
  });

  it("a forged pong from another peer settles nothing; the pinged peer's does", async () => {
    const slow = router.connect('slow'); // connected, answers only when told
    await slow.open();
    const ping = victim.ping.ping('slow', ['x']);
    await waitUntil(() => sentBy('thermostat', 'ping').length > 0);
    const id = sentBy('thermostat', 'ping')[0]!.id;
    mallory.deliverTo(victim, { peer: f('thermostat'), user: f('mallory'), id, subsystem: f('ping'), args: [f('pong'), f('forged')] });
    await waitUntil(() => (victim.stats()['replies.wrong_peer'] ?? 0) === 1);
    slow.deliverTo(victim, { peer: f('thermostat'), user: f('slow'), id, subsystem: f('ping'), args: [f('pong'), f('x')] });
    expect(await ping).toEqual(['x']);
  });

  it('an RPC error response from another peer does not fail the call', async () => {
    const srv = new Agent({ identity: 'srv', connection: router.connect('srv') });
    let release: (() => void) | undefined;
    srv.rpc.export('slow', () => new Promise((resolve) => (release = () => resolve('real'))));
    await srv.start();
    try {
      const call = victim.rpc.call('srv', 'slow');
      await waitUntil(() => release !== undefined);
      const id = (JSON.parse(frameText(sentBy('thermostat', 'RPC').at(-1)!.args[0]!)) as { id: string }).id;
      mallory.deliverTo(victim, {
        peer: f('thermostat'),
        user: f('mallory'),
        id: f(id),
        subsystem: f('RPC'),
        args: [f(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found', data: {} } }))],
      });
      await waitUntil(() => (victim.stats()['replies.wrong_peer'] ?? 0) >= 1);
      release?.();
      expect(await call).toBe('real');
    } finally {
      await srv.close();
    }
  });

  it('the error of an unreachable peer, from the router, still fails the call at once', async () => {
    await expect(victim.rpc.call('nobody', 'x')).rejects.toMatchObject({ code: 'VIP_UNREACHABLE' });
  });
});

/** Wait for a condition with a deadline (a missed deadline fails the test). */
const waitUntil = (cond: () => boolean): Promise<unknown> => waitFor(cond, { timeoutMs: 2_000, what: 'the condition' });
