/**
 * The agent behaviour every transport must pass (STYLE.md "one suite, two runs"): run by
 * agent.zmq.test.ts (and agent.rmq.test.ts when the RMQ agent wiring lands) against a real
 * platform process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerUnreachableError, TimeoutError, UnknownSubsystemError, type VipMessage } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { Agent, kwargs, MethodNotFoundError, RemoteError, UnauthorizedError, type AgentOptions, type RpcCallContext } from '@vip/agent';

export interface AgentSuitePlatform {
  /** A started agent on this platform; `userId` selects the auth entry (and so the VIP user). */
  connect(identity: string, options?: { userId?: string; agent?: Partial<AgentOptions> }): Promise<Agent>;
  /** Stop the platform and start it again on the same address with the same key. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface AgentSuiteFixture {
  readonly name: string;
  startPlatform(): Promise<AgentSuitePlatform>;
}

export function describeAgentSuite(fx: AgentSuiteFixture): void {
  describe(`agent suite: ${fx.name}`, () => {
    let platform: AgentSuitePlatform;
    const agents: Agent[] = [];
    const connect = async (identity: string, options?: Parameters<AgentSuitePlatform['connect']>[1]) => {
      const a = await platform.connect(identity, options);
      agents.push(a);
      return a;
    };
    let srv: Agent;
    let cli: Agent;

    beforeAll(async () => {
      platform = await fx.startPlatform();
      srv = await platform.connect('suite.srv', { agent: { rpc: { capabilities: { 'cap-user': { can_set: { room: '/r[0-9]+/' } } } } } });
      agents.push(srv);
      srv.rpc.export('echo', (x: unknown) => x);
      srv.rpc.export('add', (a: number, b: number) => a + b, { params: ['a', { name: 'b', default: 10 }] });
      srv.rpc.export('mixed', (a: unknown, rest: unknown[], kw: unknown) => ({ a, rest, kw }), {
        params: ['a', { name: 'rest', kind: 'VAR_POSITIONAL' }, { name: 'kw', kind: 'VAR_KEYWORD' }],
      });
      srv.rpc.export('fail', (msg: string) => {
        throw new RangeError(msg);
      });
      srv.rpc.export('whoami', function (this: RpcCallContext) {
        return { caller: this.caller, user: this.user };
      });
      srv.rpc.export('set_temp', (room: string) => room, { params: ['room'], allow: 'can_set' });
      srv.rpc.export('never', () => new Promise(() => undefined));
      cli = await connect('suite.cli');
    });
    afterAll(async () => {
      await Promise.all(agents.splice(0).map((a) => a.close()));
      await platform?.close();
    });

    it('talks to the router: ping, peerlist, query', async () => {
      expect(await cli.ping.ping('', ['x'])).toEqual(['x']);
      expect(await cli.ping.ping('suite.srv', ['y'])).toEqual(['y']);
      expect(await cli.peerlist.list()).toEqual(expect.arrayContaining(['suite.srv', 'suite.cli']));
      expect(await cli.query.query('instance-name')).toBeTypeOf('string');
      expect(await cli.query.query('no-such-property')).toBeNull();
    });

    it('calls RPC with positional, keyword and mixed parameters, notifies and batches', async () => {
      expect(await cli.rpc.call('suite.srv', 'echo', { 'caf\u00e9': [1, 2.5, null] })).toEqual({ 'caf\u00e9': [1, 2.5, null] });
      expect(await cli.rpc.call('suite.srv', 'add', kwargs({ a: 1, b: 2 }))).toBe(3);
      expect(await cli.rpc.call('suite.srv', 'add', 1)).toBe(11);
      expect(await cli.rpc.call('suite.srv', 'mixed', 1, 2, kwargs({ k: 'v' }))).toEqual({ a: 1, rest: [2], kw: { k: 'v' } });
      let noted: unknown;
      srv.rpc.export('note', (x: unknown) => void (noted = x));
      await cli.rpc.notify('suite.srv', 'note', 'n1');
      await waitFor(() => noted === 'n1', { timeoutMs: 5_000, what: 'notification delivered' });
      const results = await cli.rpc.batch('suite.srv', [
        { method: 'echo', args: [1] },
        { method: 'nope' },
        { method: 'note', args: ['n2'], notify: true },
      ]);
      expect(results[0]).toEqual({ status: 'fulfilled', value: 1 });
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'VIP_METHOD_NOT_FOUND' } });
      expect((await cli.rpc.inspect('suite.srv')) as { methods: string[] }).toMatchObject({
        methods: expect.arrayContaining(['echo', 'add']),
      });
      expect(await cli.rpc.inspect('suite.srv', 'add')).toMatchObject({ params: { b: { default: 10 } } });
    });

    it('passes the caller identity and VIP user to exported methods', async () => {
      expect(await cli.rpc.call('suite.srv', 'whoami')).toMatchObject({ caller: 'suite.cli' });
    });

    it('maps RPC errors: RemoteError, MethodNotFoundError, TimeoutError', async () => {
      const err = await cli.rpc.call('suite.srv', 'fail', 'boom').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(err).toMatchObject({ excType: 'builtins.ValueError', excArgs: ['boom'], detail: 'boom' });
      await expect(cli.rpc.call('suite.srv', 'missing')).rejects.toBeInstanceOf(MethodNotFoundError);
      await expect(cli.rpc.request('suite.srv', 'never', { timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('fails a call to a missing peer with PeerUnreachableError, not a timeout', async () => {
      const err = await cli.rpc.request('no.such.peer', 'echo', { args: [1], timeoutMs: 25_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PeerUnreachableError);
      expect(err).toMatchObject({ peer: 'no.such.peer', subsystem: 'RPC' });
    });

    it('checks capabilities against the caller user id', async () => {
      const capped = await connect('suite.capped', { userId: 'cap-user' });
      expect(await capped.rpc.call('suite.srv', 'set_temp', 'r1')).toBe('r1');
      const refused = await capped.rpc.call('suite.srv', 'set_temp', 'kitchen').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UnauthorizedError);
      expect((refused as UnauthorizedError).detail).toBe(
        'User cap-user can call method set_temp only with room matching pattern /r[0-9]+/ but called with room=kitchen',
      );
      const who = (await cli.rpc.call('suite.srv', 'whoami')) as { user: string };
      const denied = await cli.rpc.call('suite.srv', 'set_temp', 'r1').catch((e: unknown) => e);
      expect((denied as UnauthorizedError).detail).toBe(
        `method 'set_temp' requires capabilities {'can_set'}, but capability None was provided for user ${who.user}`,
      );
    });

    it('answers an unknown subsystem with error 93', async () => {
      const err = await cli.core
        .request<VipMessage>({ peer: 'suite.srv', subsystem: 'nosuch', args: ['x'] }, { timeoutMs: 5_000 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnknownSubsystemError);
    });

    it('sends agentstop on stop: the others see a peerlist drop', async () => {
      const leaving = await platform.connect('suite.leaving');
      const dropped: string[] = [];
      cli.peerlist.onDrop((p) => dropped.push(p));
      await leaving.stop();
      await waitFor(() => dropped.includes('suite.leaving'), { timeoutMs: 5_000, what: 'peerlist drop of suite.leaving' });
    });

    it('publishes heartbeats and health alerts through pubsub', async () => {
      const got: { topic: string; headers: Readonly<Record<string, unknown>>; message: unknown }[] = [];
      await cli.pubsub!.subscribe(['heartbeat/suite.srv', 'alerts/'], (_peer, _sender, _bus, topic, headers, message) => {
        got.push({ topic, headers, message });
      });
      await cli.rpc.call('suite.srv', 'health.set_status', 'BAD', 'disk');
      await cli.rpc.call('suite.srv', 'heartbeat.start_with_period', 0.1);
      await waitFor(() => got.some((g) => g.topic === 'heartbeat/suite.srv'), { timeoutMs: 5_000, what: 'a heartbeat publish' });
      await cli.rpc.call('suite.srv', 'heartbeat.stop');
      const beat = got.find((g) => g.topic === 'heartbeat/suite.srv')!;
      expect(beat.message).toBe('BAD');
      expect(beat.headers.TimeStamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      await cli.rpc.call('suite.srv', 'health.send_alert', 'disk_full', { status: 'BAD' });
      const isAlert = (t: string) => /^alerts\/Agent\/.+_suite_srv$/.test(t); // alerts/<class>/<instance>_<identity>
      await waitFor(() => got.some((g) => isAlert(g.topic)), { timeoutMs: 5_000, what: 'an alert publish' });
      expect(got.find((g) => isAlert(g.topic))!.headers.alert_key).toBe('disk_full');
      await cli.rpc.call('suite.srv', 'health.set_status', 'GOOD');
    });

    it('connects 100 agents at once from one process', async () => {
      const many = await Promise.all(Array.from({ length: 100 }, (_, i) => connect(`suite.many.${i}`)));
      const peers = await cli.peerlist.list();
      for (const a of many) expect(peers).toContain(a.identity);
      const answers = await Promise.all(many.map((a) => a.rpc.call('suite.srv', 'echo', a.identity)));
      expect(answers).toEqual(many.map((a) => a.identity));
      await Promise.all(many.map((a) => a.close()));
    });

    it('reconnects after the platform restarts: events fire, calls resume', async () => {
      const events: string[] = [];
      const delivered: string[] = [];
      await cli.pubsub!.subscribe('suite/after-restart', (_p, _s, _b, topic) => void delivered.push(topic));
      cli.on('disconnected', () => events.push('cli.disconnected'));
      cli.on('connected', () => events.push('cli.connected'));
      srv.on('connected', () => events.push('srv.connected'));
      await platform.restart();
      await waitFor(() => events.includes('cli.connected') && events.includes('srv.connected'), {
        timeoutMs: 30_000,
        what: 'both agents re-welcomed',
      });
      expect(events.indexOf('cli.disconnected')).toBeLessThan(events.indexOf('cli.connected'));
      expect(await cli.rpc.call('suite.srv', 'echo', 'again')).toBe('again');
      // the new router learnt cli's subscription from the re-synchronize after the welcome
      await waitFor(
        async () => {
          await srv.pubsub!.publish('suite/after-restart/x', { message: 1 });
          return delivered.includes('suite/after-restart/x');
        },
        { timeoutMs: 10_000, what: 'a publish after the restart reaching the re-subscribed agent' },
      );
    });
  });
}
