import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { frameText, PeerUnreachableError, TimeoutError } from '@vip/protocol';
import {
  Agent,
  exported,
  kwargs,
  MethodNotFoundError,
  RemoteError,
  rpcContext,
  RpcException,
  UnauthorizedError,
  type RpcCallContext,
} from '../src/index.js';
import { MemoryRouter } from '@vip/testing';

// The line the test's `add` method is exported on (1-based): what <method>.inspect must report as its source.
const ADD_EXPORT_LINE =
  readFileSync(new URL(import.meta.url), 'utf8')
    .split('\n')
    .findIndex((line) => /^\s*callee\.rpc\.export\('add'/.test(line)) + 1;

let router: MemoryRouter;
let caller: Agent;
let callee: Agent;

beforeEach(async () => {
  router = new MemoryRouter();
  caller = new Agent({ identity: 'caller', connection: router.connect('caller'), rpc: { timeoutMs: 2_000 } });
  callee = new Agent({
    identity: 'srv',
    connection: router.connect('srv'),
    rpc: { capabilities: { caller: { can_set: { room: '/r[0-9]+|lobby/' }, can_x: { x: 1 } }, other: {} } },
  });
  callee.rpc.export('echo', (x: unknown) => x);
  callee.rpc.export('add', (a: number, b: number) => a + b, { params: ['a', { name: 'b', default: 10 }], doc: 'adds' });
  callee.rpc.export('spread', (a: unknown, rest: unknown[], kw: unknown) => ({ a, rest, kw }), {
    params: ['a', { name: 'rest', kind: 'VAR_POSITIONAL' }, { name: 'kw', kind: 'VAR_KEYWORD' }],
  });
  callee.rpc.export('raw', (...args: unknown[]) => args);
  callee.rpc.export('fail', (msg: string) => {
    throw new RangeError(msg);
  });
  callee.rpc.export('typed', () => {
    throw new RpcException('builtins.KeyError', 'missing', ['missing']);
  });
  callee.rpc.export('whoami', function (this: RpcCallContext) {
    return [this.caller, this.user, rpcContext()?.method];
  });
  callee.rpc.export('set_temp', (room: string, t: number) => `${room}=${t}`, { params: ['room', 't'], allow: 'can_set' });
  callee.rpc.export('restricted', (x: number) => x, { params: ['x'], allow: ['can_x'] });
  callee.rpc.export('admin', () => 'ok', { allow: 'root' });
  callee.rpc.export('circular', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  });
  await callee.start();
  await caller.start();
});
afterEach(async () => {
  await caller.close();
  await callee.close();
});

describe('RPC calls', () => {
  it('sends VOLTTRON-shaped requests: positional, keyword, mixed, none', async () => {
    expect(await caller.rpc.call('srv', 'echo', 'hi')).toBe('hi');
    expect(await caller.rpc.call('srv', 'add', kwargs({ a: 1, b: 2 }))).toBe(3);
    expect(await caller.rpc.call('srv', 'add', 5)).toBe(15);
    expect(await caller.rpc.call('srv', 'spread', 1, 2, 3, kwargs({ k: 'v' }))).toEqual({ a: 1, rest: [2, 3], kw: { k: 'v' } });
    expect(await caller.rpc.request('srv', 'raw', { args: [1], kwargs: { z: true } })).toEqual([1, { z: true }]);
    expect(await caller.rpc.call('srv', 'raw')).toEqual([]);
    const bodies = router.sent
      .filter((s) => s.from === 'caller' && frameText(s.message.subsystem) === 'RPC')
      .map((s) => frameText(s.message.args[0]!));
    expect(bodies[0]).toMatch(/^\{"jsonrpc": "2\.0", "method": "echo", "params": \["hi"\], "id": "\d+\.000000\.\d+\.000000"\}$/);
    expect(bodies[1]).toContain('"params": {"a": 1, "b": 2}');
    expect(bodies[3]).toContain('"params": {"*args": [1, 2, 3], "**kwargs": {"k": "v"}}');
    expect(bodies[5]).not.toContain('params');
    const m = router.sent.find((s) => s.from === 'caller' && frameText(s.message.subsystem) === 'RPC')!.message;
    expect(frameText(m.id)).toBe(JSON.parse(bodies[0]!).id);
    expect(() => JSON.parse(frameText(m.id))).toThrow();
  });

  it('passes caller and user to the method', async () => {
    expect(await caller.rpc.call('srv', 'whoami')).toEqual(['caller', 'caller', 'whoami']);
  });

  it('raises RemoteError with the remote type, args and traceback', async () => {
    const err = (await caller.rpc.call('srv', 'fail', 'boom').catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      code: 'VIP_REMOTE_EXCEPTION',
      excType: 'builtins.ValueError',
      excArgs: ['boom'],
      detail: 'boom',
      rpcCode: -32000,
    });
    expect(err.excTb).toContain('RangeError');
    await expect(caller.rpc.call('srv', 'typed')).rejects.toMatchObject({ excType: 'builtins.KeyError' });
    await expect(caller.rpc.call('srv', 'add', 1, 2, 3)).rejects.toMatchObject({ excType: 'builtins.TypeError' });
    await expect(caller.rpc.call('srv', 'add', kwargs({ q: 1 }))).rejects.toThrow(/unexpected keyword argument 'q'/);
    await expect(caller.rpc.call('srv', 'circular')).rejects.toMatchObject({ excType: 'builtins.TypeError' });
  });

  it('raises MethodNotFoundError, TimeoutError, PeerUnreachableError (fast)', async () => {
    await expect(caller.rpc.call('srv', 'nope')).rejects.toBeInstanceOf(MethodNotFoundError);
    await expect(caller.rpc.call('srv', 'nope')).rejects.toMatchObject({ method: 'nope', code: 'VIP_METHOD_NOT_FOUND' });
    const err = await caller.rpc.call('ghost', 'echo', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerUnreachableError);
    callee.rpc.export('slow', () => new Promise(() => undefined));
    const t = await caller.rpc.request('srv', 'slow', { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(t).toBeInstanceOf(TimeoutError);
    expect((t as Error).message).toContain('"srv".slow');
  });

  it('notifies without a reply and batches calls in one message', async () => {
    let got: unknown;
    callee.rpc.export('note', (x: unknown) => void (got = x));
    await caller.rpc.notify('srv', 'note', 'n');
    await caller.rpc.call('srv', 'echo', 'sync');
    expect(got).toBe('n');
    const before = router.sent.filter((s) => s.from === 'srv').length;
    const results = await caller.rpc.batch('srv', [
      { method: 'echo', args: ['a'] },
      { method: 'note', args: ['b'], notify: true },
      { method: 'nope' },
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'a' });
    expect(results[1]).toEqual({ status: 'fulfilled', value: undefined });
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'VIP_METHOD_NOT_FOUND' } });
    expect(router.sent.filter((s) => s.from === 'srv').length - before).toBe(1);
    const batchToGhost = await caller.rpc.batch('ghost', [{ method: 'a' }, { method: 'b' }]);
    expect(batchToGhost.map((r) => r.status === 'rejected' && (r.reason as Error).name)).toEqual([
      'PeerUnreachableError',
      'PeerUnreachableError',
    ]);
  });

  it('answers inspect and <method>.inspect', async () => {
    const list = (await caller.rpc.inspect('srv')) as { methods: string[] };
    expect(list.methods).toEqual(expect.arrayContaining(['echo', 'add', 'health.get_status', 'heartbeat.start']));
    expect(await caller.rpc.inspect('srv', 'add')).toEqual({
      params: { a: { kind: 'POSITIONAL_OR_KEYWORD' }, b: { kind: 'POSITIONAL_OR_KEYWORD', default: 10 } },
      doc: 'adds',
      // VOLTTRON's source: where the method was exported (the line of `export('add'` in this file), relative to the working directory
      source: { file: expect.stringMatching(/^(packages\/agent\/)?test\/rpc\.test\.ts$/), line_number: ADD_EXPORT_LINE },
    });
  });

  it('checks capabilities against the caller user with VOLTTRON texts', async () => {
    expect(await caller.rpc.call('srv', 'set_temp', 'r12', 20)).toBe('r12=20');
    expect(await caller.rpc.call('srv', 'set_temp', 'lobby', 20)).toBe('lobby=20');
    const e1 = (await caller.rpc.call('srv', 'set_temp', 'r1x', 1).catch((e: unknown) => e)) as UnauthorizedError;
    expect(e1).toBeInstanceOf(UnauthorizedError);
    expect(e1.excType).toBe('volttron.platform.jsonrpc.Error');
    expect(e1.detail).toBe('User caller can call method set_temp only with room matching pattern /r[0-9]+|lobby/ but called with room=r1x');
    await expect(caller.rpc.call('srv', 'restricted', 42)).rejects.toThrow(
      'User caller can call method restricted only with x=1 but called with x=42',
    );
    expect(await caller.rpc.call('srv', 'restricted', 1)).toBe(1);
    await expect(caller.rpc.call('srv', 'admin')).rejects.toMatchObject({
      code: 'VIP_UNAUTHORIZED',
      detail:
        "method 'admin' requires capabilities {'root'}, but capability {'can_set': {'room': '/r[0-9]+|lobby/'}, 'can_x': {'x': 1}} was provided for user caller",
    });
  });

  it('accepts auth.update only from platform.auth, and never over a map given in the options', async () => {
    const grant = { caller: { root: null } };
    await expect(caller.rpc.call('srv', 'auth.update', grant)).rejects.toMatchObject({
      excType: 'volttron.platform.jsonrpc.Error',
      detail: 'auth.update is accepted only from platform.auth, not from caller',
    });
    const auth = new Agent({ identity: 'platform.auth', connection: router.connect('platform.auth') });
    await auth.start();
    try {
      await auth.rpc.call('srv', 'auth.update', grant);
      // srv was given a fixed map: the push from platform.auth does not replace it.
      await expect(caller.rpc.call('srv', 'admin')).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
    } finally {
      await auth.close();
    }
  });

  it('exports methods marked with the exported decorator (real decorator syntax, lowered by esbuild as tsup does)', async () => {
    const { transformSync } = await import('esbuild');
    const source = `export default (exported) => {
      class Thermo { temp = 20; @exported({ params: ['delta'] }) bump(delta) { this.temp += delta; return this.temp; } }
      return new Thermo();
    };`;
    const js = transformSync(source, { loader: 'ts', format: 'esm', target: 'node20' }).code;
    const make = (
      (await import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as {
        default: (d: typeof exported) => object;
      }
    ).default;
    expect(callee.rpc.exportObject(make(exported))).toEqual(['bump']);
    expect(await caller.rpc.call('srv', 'bump', kwargs({ delta: 2 }))).toBe(22);
  });

  it('exports methods marked with the exported decorator', async () => {
    class Thermostat {
      temp = 20;
      read(): number {
        return this.temp;
      }
    }
    // Apply the standard decorator by hand (vitest's transform does not lower decorator syntax).
    const inits: ((this: Thermostat) => void)[] = [];
    exported({ name: 'thermo.read' })(Thermostat.prototype.read, {
      kind: 'method',
      name: 'read',
      static: false,
      private: false,
      metadata: {},
      access: { has: () => true, get: (o: Thermostat) => o.read },
      addInitializer: (f: (this: Thermostat) => void) => inits.push(f),
    } as unknown as ClassMethodDecoratorContext<Thermostat>);
    const t = new Thermostat();
    for (const f of inits) f.call(t);
    t.temp = 23;
    expect(callee.rpc.exportObject(t)).toEqual(['thermo.read']);
    expect(await caller.rpc.call('srv', 'thermo.read')).toBe(23);
  });

  it('answers malformed requests as Python does and survives them', async () => {
    await caller.core.send({ peer: 'srv', id: 'raw-1', subsystem: 'RPC', args: ['{not json'] });
    await caller.rpc.call('srv', 'echo', 1);
    const reply = router.sent.find((s) => s.from === 'srv' && frameText(s.message.id) === 'raw-1')!.message;
    expect(frameText(reply.args[0]!)).toBe(
      '{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "invalid object type", "data": {"detail": "expected a list or dictionary ; got a \'str\' instead"}}}',
    );
    expect(callee.rpc.rejected).toBe(1);
  });

  it('serves health RPCs with VOLTTRON names', async () => {
    await caller.rpc.call('srv', 'health.set_status', 'BAD', 'disk full');
    expect(await caller.rpc.call('srv', 'health.get_status')).toMatchObject({ status: 'BAD', context: 'disk full' });
    expect(JSON.parse((await caller.rpc.call('srv', 'health.get_status_json')) as string)).toMatchObject({ status: 'BAD' });
    await expect(caller.rpc.call('srv', 'health.set_status', 'WEIRD')).rejects.toMatchObject({ excType: 'builtins.ValueError' });
    await caller.rpc.call('srv', 'heartbeat.set_period', 5);
    expect(callee.heartbeat.periodS).toBe(5);
  });
});
