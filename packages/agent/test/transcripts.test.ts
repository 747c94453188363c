/**
 * Interop: what our agent writes, frame for frame, against what real VOLTTRON 9 agents wrote
 * (fixtures/volttron-9.0.4/transcripts/agent_*.json). Where VOLTTRON's format fixes the bytes (envelope, subsystem,
 * JSON-RPC text) they must be equal; where only generated ids differ, the test says so and
 * substitutes ours.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePeerFrames, encodePeerFrames, frameText, type Frame } from '@vip/protocol';
import { waitFor, MemoryRouter } from '@vip/testing';
import { Agent, kwargs } from '../src/index.js';

const DIR = process.env.VIP_TRANSCRIPTS ?? fileURLToPath(new URL('../../../fixtures/volttron-9.0.4/transcripts/', import.meta.url));
type RawFrame = string | { hex: string };
interface Exchange {
  direction: string;
  identity?: string;
  frames: Frame[];
}
function transcript(name: string): Exchange[] {
  const raw = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as {
    exchanges: { direction: string; identity?: string; frames: RawFrame[] }[];
  };
  return raw.exchanges.map((e) => ({
    ...e,
    frames: e.frames.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f.hex, 'hex'))),
  }));
}
const texts = (frames: readonly Frame[]) => frames.map((f) => frameText(f));

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});
async function started(router: MemoryRouter, identity: string): Promise<Agent> {
  const a = new Agent({ identity, connection: router.connect(identity), rpc: { timeoutMs: 1_000 } });
  agents.push(a);
  a.rpc.export('echo', (x: unknown) => x, { params: ['x', { name: 'tag', default: null }] });
  a.rpc.export(
    'fail',
    (msg: string) => {
      throw new RangeError(msg);
    },
    { params: ['msg'] },
  );
  await a.start();
  return a;
}
/** Frames our agent `from` wrote, as its DEALER sends them. */
const written = (router: MemoryRouter, from: string, subsystem: string) =>
  router.sent.filter((s) => s.from === from && frameText(s.message.subsystem) === subsystem).map((s) => encodePeerFrames(s.message));

describe('agent frames match the VOLTTRON 9 transcripts', () => {
  it('hello at connect: byte-exact (agent_hello_welcome)', async () => {
    const router = new MemoryRouter();
    await started(router, 'cap.agent');
    expect(written(router, 'cap.agent', 'hello')[0]).toEqual(transcript('agent_hello_welcome')[0]!.frames);
  });

  it('agentstop on stop: byte-exact (agent_stop)', async () => {
    const router = new MemoryRouter();
    const a = await started(router, 'cap.agent2');
    await a.stop();
    expect(written(router, 'cap.agent2', 'agentstop')[0]).toEqual(transcript('agent_stop')[0]!.frames);
  });

  it('peerlist list and query: equal except the generated message id', async () => {
    const router = new MemoryRouter();
    const a = await started(router, 'cap.agent');
    await a.peerlist.list();
    await a.query.query('serverkey');
    const ours = [written(router, 'cap.agent', 'peerlist')[0]!, written(router, 'cap.agent', 'query')[0]!];
    const theirs = [transcript('agent_peerlist')[0]!.frames, transcript('agent_query')[0]!.frames];
    for (const [i, frames] of ours.entries()) {
      const expected = [...theirs[i]!];
      expected[3] = frames[3]!; // ids differ: ours never parse as JSON, like VOLTTRON's "<n>.000000.<m>.000000"
      expect(frames).toEqual(expected);
      expect(frameText(frames[3]!)).toMatch(/^\d+\.000000\.\d+\.000000$/);
    }
  });

  it('RPC requests: equal JSON text except ids; notify byte-exact (agent_rpc_call_response, agent_rpc_notify, agent_unreachable_peer)', async () => {
    const router = new MemoryRouter();
    const a = await started(router, 'cap.agent');
    await started(router, 'cap.srv');
    await a.rpc.call('cap.srv', 'echo', 'hi');
    await a.rpc.call('cap.srv', 'echo', kwargs({ x: { a: [1, 2] }, tag: 'kw' }));
    await a.rpc.notify('cap.srv', 'echo', 'n');
    await a.rpc.call('no.such.peer', 'echo', 1).catch(() => undefined);
    const ours = written(router, 'cap.agent', 'RPC');
    const theirs = [
      transcript('agent_rpc_call_response')[0]!.frames,
      transcript('agent_rpc_call_response')[4]!.frames,
      transcript('agent_rpc_notify')[0]!.frames,
      transcript('agent_unreachable_peer')[0]!.frames,
    ];
    for (const [i, frames] of ours.entries()) {
      const expected = [...theirs[i]!];
      if (i !== 2) {
        // VOLTTRON's VIP id (a JSON number a Python router mangles) and JSON-RPC id differ; ours is
        // one non-JSON id used for both, so a router's error 113 can be matched (docs/protocol.md 1.5).
        const id = frameText(frames[3]!);
        expected[3] = Buffer.from(id);
        expected[5] = Buffer.from(frameText(expected[5]!).replace(/"id": "[^"]+"/, `"id": "${id}"`));
      }
      expect(texts(frames)).toEqual(texts(expected));
    }
  });

  it('RPC responses of a callee: byte-exact results and method-not-found; errors equal but for the traceback (agent_rpc_call_response, agent_rpc_error)', async () => {
    const router = new MemoryRouter();
    const srv = await started(router, 'cap.srv');
    const calls = transcript('agent_rpc_call_response');
    const errors = transcript('agent_rpc_error');
    const pairs = [
      [calls[1]!, calls[2]!],
      [calls[5]!, calls[6]!],
      [errors[1]!, errors[2]!],
      [errors[5]!, errors[6]!],
    ] as const;
    for (const [request] of pairs) router.connect('cap.agent').deliverTo(srv, decodePeerFrames(request.frames));
    await srv.ping.ping();
    await srv.ping.ping();
    const ours = written(router, 'cap.srv', 'RPC');
    expect(ours).toHaveLength(4);
    for (const [i, [, response]] of pairs.entries()) {
      const theirs = texts(response.frames);
      const id = /"id": "([^"]+)"/.exec(theirs[5]!)![1]!;
      const match = ours.find((frames) => frameText(frames[5]!).includes(`"id": "${id}"`))!; // replies are async: match by id
      const mine = texts(match);
      if (i === 2) {
        // exc_tb is each side's own stack trace text; everything else is equal.
        const strip = (t: string) => t.replace(/"exc_tb": "(?:[^"\\]|\\.)*", /, '');
        expect(strip(mine[5]!)).toBe(strip(theirs[5]!));
        mine[5] = theirs[5] = '';
      }
      expect(mine).toEqual(theirs);
      expect(match[3]).toEqual(response.frames[3]); // the (mangled) VIP id is echoed byte-exact
    }
  });

  it('a refused capability check: equal but for the traceback, exc_args [-32001, text] as VOLTTRON sends them (agent_store_errors)', async () => {
    const router = new MemoryRouter();
    const store = new Agent({
      identity: 'config.store',
      connection: router.connect('config.store'),
      rpc: { capabilities: { 'cap.cfg': { edit_config_store: { identity: 'cap.cfg' } } } },
    });
    agents.push(store);
    store.rpc.export('manage_store', () => null, {
      params: ['identity', 'config_name', 'raw_contents', 'config_type'],
      allow: 'edit_config_store',
    });
    await store.start();
    const exchanges = transcript('agent_store_errors');
    const [request, response] = [exchanges[4]!, exchanges[5]!];
    router.connect('cap.cfg').deliverTo(store, decodePeerFrames(request.frames));
    await waitFor(() => written(router, 'config.store', 'RPC').length > 0, { what: 'the refusal' });
    const ours = written(router, 'config.store', 'RPC');
    expect(ours).toHaveLength(1);
    const [mine, theirs] = [texts(ours[0]!), texts(response.frames)];
    const strip = (t: string) => t.replace(/"exc_tb": "(?:[^"\\]|\\.)*", /, '');
    expect(strip(mine[5]!)).toBe(strip(theirs[5]!));
    expect(JSON.parse(mine[5]!).error.data['exception.py'].exc_args).toEqual([
      -32001,
      'User cap.cfg can call method manage_store only with identity=cap.cfg but called with identity=other.agent',
    ]);
  });
});

describe('agent.config frames match the VOLTTRON 9 transcripts (agent_store_start, agent_store_manage)', () => {
  it('asks config.store initialize_configs as a Python agent does, and answers its pushes with the same reply', async () => {
    const router = new MemoryRouter();
    const store = new Agent({ identity: 'config.store', connection: router.connect('config.store'), rpc: { timeoutMs: 1_000 } });
    agents.push(store);
    store.rpc.export(
      'initialize_configs',
      async (identity: string) => {
        await store.rpc.call(identity, 'config.initial_update', {});
        return null;
      },
      { params: ['identity'] },
    );
    await store.start();
    const cfg = new Agent({ identity: 'cap.cfg', connection: router.connect('cap.cfg'), rpc: { timeoutMs: 1_000 } });
    agents.push(cfg);
    const seen: unknown[] = [];
    cfg.config.subscribe((name, action, contents) => void seen.push([name, action, contents]));
    await cfg.start();
    const start = transcript('agent_store_start');
    const theirs = texts(start.find((e) => e.direction === 'agent->router' && frameText(e.frames[0]!) === 'config.store')!.frames);
    const mine = texts(
      written(router, 'cap.cfg', 'RPC').find(
        (f) => frameText(f[0]!) === 'config.store' && frameText(f[5]!).includes('initialize_configs'),
      )!,
    );
    // Allowed difference: the ids each side generates.
    const noId = (t: string[]) => [...t.slice(0, 3), ...t.slice(4, 5), t[5]!.replace(/"id": "[^"]+"/, '"id": "X"')];
    expect(noId(mine)).toEqual(noId(theirs));

    // the captured config.update push of agent_store_manage, delivered as config.store sent it
    const manage = transcript('agent_store_manage');
    const push = manage[1]!;
    const before = written(router, 'cap.cfg', 'RPC').length;
    router.connect('config.store').deliverTo(cfg, decodePeerFrames([Buffer.from('cap.cfg'), ...push.frames.slice(1)]));
    await waitFor(() => written(router, 'cap.cfg', 'RPC').length > before, { what: 'the reply to config.update' });
    const reply = written(router, 'cap.cfg', 'RPC').at(-1)!;
    expect(texts(reply).slice(4)).toEqual(texts(manage[2]!.frames).slice(4));
    expect(reply[3]).toEqual(manage[2]!.frames[3]); // the (mangled) VIP id is echoed byte-exact
    expect(seen).toEqual([['config', 'NEW', { setpoint: 22, units: 'C' }]]);
  });
});
