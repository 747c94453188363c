// The config.store service against VOLTTRON 9.0.4's captures: raw VIP clients send exactly the
// frames the Python agent cap.cfg sent (agent_store_start, agent_store_manage, agent_store_errors),
// answer the store's pushes as a Python agent does, and compare what comes back frame by frame.
// Allowed differences are named where applied. Then: the store file VOLTTRON wrote is read
// unchanged, a truncated one is refused at start, a failed write keeps the served state, and an
// agent cannot change another agent's store by naming it or by writing a user frame.
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadTranscript,
  openRawClient,
  startPlatform,
  TRANSCRIPT_DIR,
  type PlatformProcess,
  type RawVipClient,
  type TranscriptExchange,
} from '@vip/testing';

const AGENT = 'cap.cfg'; // the identity the captures were recorded with
const STORE = 'config.store';
const CAPTURED_STORE = join(TRANSCRIPT_DIR, 'config_store', 'cap.cfg.store');
/** The captured file, installed as another agent's store before the platform starts. */
const PRELOADED = 'volttron.cap';

let platform: PlatformProcess;
let agent: RawVipClient;

const text = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('latin1'));
interface RpcBody {
  readonly id?: unknown;
  readonly method?: string;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: { code: number; message: string; data: { detail: string; 'exception.py': { exc_type: string; exc_args: unknown[] } } };
}
const body = (frames: readonly (Buffer | string)[]): RpcBody => JSON.parse(frames[5]?.toString() ?? 'null') as RpcBody;

interface Outcome {
  readonly reply: string[];
  readonly pushes: string[][];
}

/**
 * Send one captured request; answer every push from config.store as a Python agent does
 * (`result: null`), until the reply with the request's JSON-RPC id comes.
 */
async function call(client: RawVipClient, frames: readonly (Buffer | string)[]): Promise<Outcome> {
  await client.send(frames);
  const id = body(frames).id;
  const pushes: string[][] = [];
  for (;;) {
    const f = await client.receive({ timeoutMs: 15_000 });
    if (f[4]?.toString() !== 'RPC' || f[0]?.toString() !== STORE) continue;
    const b = body(f);
    if (b.method !== undefined) {
      pushes.push(text(f));
      await client.sendVip(STORE, 'RPC', [`{"jsonrpc": "2.0", "id": ${JSON.stringify(b.id)}, "result": null}`], { id: f[3] ?? '' });
      continue;
    }
    if (b.id === id) return { reply: text(f), pushes };
  }
}

/** What the capture says each config.store request got: its pushes and its reply, in order. */
function expectations(exchanges: readonly TranscriptExchange[]): { request: readonly Buffer[]; pushes: string[][]; reply: string[] }[] {
  const out: { request: readonly Buffer[]; pushes: string[][]; reply: string[] }[] = [];
  for (const e of exchanges) {
    if (e.direction === 'agent->router' && e.frames[0]?.toString() === STORE && body(e.frames).method !== undefined) {
      out.push({ request: e.frames, pushes: [], reply: [] });
    } else if (e.direction === 'router->agent' && e.frames[0]?.toString() === STORE) {
      const b = body(e.frames);
      const open = out.find((x) => x.reply.length === 0 && (b.method !== undefined || body(x.request).id === b.id));
      if (!open) continue;
      if (b.method !== undefined) open.pushes.push(text(e.frames));
      else open.reply = text(e.frames);
    }
  }
  return out;
}

const MODIFIED = /"modified": "[^"]+"/g;

/**
 * Compare a reply: every frame but the message id (VOLTTRON's router re-encodes an id that parses
 * as a number, docs/protocol.md 1.4; ours forwards it as sent), results byte for byte with the
 * `modified` time replaced, errors by code, message, exc_type, exc_args and detail (except the
 * text of a JSON parse error, which is Python's decoder's own wording).
 */
function expectSameReply(got: string[], want: string[]): void {
  expect(got.slice(0, 3)).toEqual(want.slice(0, 3));
  expect(got[4]).toBe(want[4]);
  const g = body(got);
  const w = body(want);
  if (w.error === undefined) {
    expect(got[5]?.replace(MODIFIED, '"modified": "T"')).toBe(want[5]?.replace(MODIFIED, '"modified": "T"'));
    return;
  }
  const ge = g.error;
  expect(ge?.code).toBe(w.error.code);
  expect(ge?.message).toBe(w.error.message);
  const { exc_type, exc_args } = w.error.data['exception.py'];
  expect(ge?.data['exception.py'].exc_type).toBe(exc_type);
  if (exc_type === 'json.decoder.JSONDecodeError') return;
  expect(ge?.data['exception.py'].exc_args).toEqual(exc_args);
  expect(ge?.data.detail).toBe(w.error.data.detail);
}

/** Compare a push: frames but the message id, and the JSON-RPC method and params (text, key order included). */
function expectSamePush(got: string[] | undefined, want: string[] | undefined): void {
  expect(got?.slice(0, 3)).toEqual(want?.slice(0, 3));
  expect(got?.[4]).toBe(want?.[4]);
  const g = body(got ?? []);
  const w = body(want ?? []);
  expect(g.method).toBe(w.method);
  expect(JSON.stringify(g.params)).toBe(JSON.stringify(w.params));
}

async function replay(name: string): Promise<void> {
  const transcript = await loadTranscript(name);
  for (const step of expectations(transcript.exchanges)) {
    const { reply, pushes } = await call(agent, step.request);
    expect(pushes.length, `${body(step.request).method}: pushes`).toBe(step.pushes.length);
    step.pushes.forEach((want, i) => expectSamePush(pushes[i], want));
    // Allowed difference: this platform's home also holds the store installed before it started.
    const ours = body(step.request).method === 'manage_list_stores' ? reply.map((f) => f.replace(`, "${PRELOADED}"`, '')) : reply;
    expectSameReply(ours, step.reply);
  }
}

const request = (method: string, params: unknown, id: string): string[] => [
  STORE,
  'VIP1',
  '',
  `${id}.1`,
  'RPC',
  JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id }),
];

beforeAll(async () => {
  platform = await startPlatform({
    instanceName: 'refpeer',
    prepareHome: async (home) => {
      await mkdir(join(home, 'configuration_store'));
      await copyFile(CAPTURED_STORE, join(home, 'configuration_store', `${PRELOADED}.store`));
    },
  });
  agent = await openRawClient(platform, AGENT, { capabilities: { edit_config_store: { identity: AGENT } } });
});
afterAll(async () => {
  await agent?.close();
  await platform?.close();
});

describe('config.store: the captured transcripts replayed (VOLTTRON 9.0.4 vectors)', () => {
  it('agent_store_start: initialize_configs gets config.initial_update, then its reply', async () => {
    await replay('agent_store_start');
  });

  it('agent_store_manage: manage_store json/csv/raw, manage_get, metadata, lists, delete, with the config.update pushes', async () => {
    await replay('agent_store_manage');
  });

  it('agent_store_errors: missing config, bad JSON, another identity without the capability', async () => {
    await replay('agent_store_errors');
  });

  it('what the replay left on disk is the file VOLTTRON wrote, byte for byte but the times', async () => {
    const ours = await readFile(join(platform.home, 'configuration_store', `${AGENT}.store`), 'utf8');
    const theirs = await readFile(CAPTURED_STORE, 'utf8');
    const untimed = (s: string) => s.replace(/"modified":"[^"]+"/g, '"modified":"T"');
    expect(untimed(ours)).toBe(untimed(theirs));
  });
});

describe('config.store: a VOLTTRON home', () => {
  it('the store file VOLTTRON wrote is served as it is and left unchanged', async () => {
    const stores = await call(agent, request('manage_list_stores', undefined, 'home.1'));
    expect(body(stores.reply).result).toEqual([AGENT, PRELOADED]);
    const meta = await call(agent, request('manage_get_metadata', [PRELOADED, 'config'], 'home.2'));
    expect(body(meta.reply).result).toEqual({
      type: 'json',
      modified: '2026-12-07T14:23:30.434976+00:00',
      data: '{"setpoint": 22, "units": "C"}',
    });
    const parsed = await call(agent, request('get_config', [PRELOADED, 'notes.txt', false], 'home.3'));
    expect(body(parsed.reply).result).toBe('free text');
    expect(await readFile(join(platform.home, 'configuration_store', `${PRELOADED}.store`))).toEqual(await readFile(CAPTURED_STORE));
  });

  it('set_config/get_config/delete_config (VOLTTRON 9 names) with keyword arguments and config:// links kept as written', async () => {
    const set = await call(
      agent,
      request(
        'set_config',
        { identity: AGENT, config_name: 'devices/ahu', raw_contents: { points: 'config://points' }, send_update: false },
        'v9.1',
      ),
    );
    expect(body(set.reply).result).toBeNull();
    expect(set.pushes).toEqual([]);
    const got = await call(agent, request('get_config', { identity: AGENT, config_name: 'Devices/AHU', raw: true }, 'v9.2'));
    expect(body(got.reply).result).toBe('{"points": "config://points"}');
    const cycle = await call(agent, request('set_config', [AGENT, 'points', '{"back": "config://devices/ahu"}', 'json'], 'v9.3'));
    expect(body(cycle.reply).error?.data.detail).toContain('Recursive configuration references');
    const del = await call(agent, request('delete_config', [AGENT, 'devices/ahu'], 'v9.4'));
    expect(body(del.reply).result).toBeNull();
    expect(del.pushes.map((p) => body(p).params)).toEqual([
      { '*args': ['DELETE', 'devices/ahu'], '**kwargs': { trigger_callback: false } },
    ]);
  });

  it("set_config/delete_config as agents before VOLTTRON 9 call them (no identity: the caller's own store)", async () => {
    const set = await call(
      agent,
      request('set_config', { '*args': ['legacy', { old: true }], '**kwargs': { trigger_callback: true, send_update: true } }, 'old.1'),
    );
    expect(body(set.reply).result).toBeNull();
    expect(set.pushes.map((p) => body(p).params)).toEqual([
      { '*args': ['NEW', 'legacy'], '**kwargs': { contents: { old: true }, trigger_callback: true } },
    ]);
    const del = await call(
      agent,
      request('delete_config', { '*args': ['legacy'], '**kwargs': { trigger_callback: false, send_update: false } }, 'old.2'),
    );
    expect(body(del.reply).result).toBeNull();
    expect(del.pushes).toEqual([]);
    const list = await call(agent, request('list_configs', [AGENT], 'old.3'));
    expect(body(list.reply).result).not.toContain('legacy');
  });

  it('a write that fails answers the error and keeps serving the previous config', async () => {
    await call(agent, request('manage_store', [AGENT, 'keep', '{"v": 1}', 'json'], 'fail.1'));
    const path = join(platform.home, 'configuration_store', `${AGENT}.store`);
    await rm(path);
    await mkdir(join(path, 'blocker'), { recursive: true }); // the rename over a non-empty directory fails
    try {
      const failed = await call(agent, request('manage_store', [AGENT, 'keep', '{"v": 2}', 'json'], 'fail.2'));
      expect(body(failed.reply).error?.data.detail).toContain('previous contents are kept');
      expect(failed.pushes).toEqual([]);
      const kept = await call(agent, request('manage_get', [AGENT, 'keep', false], 'fail.3'));
      expect(body(kept.reply).result).toEqual({ v: 1 });
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });
});

describe('config.store: who may change which store (identity from the proven user, never from the frame)', () => {
  it('an agent whose user is not the store identity and holds no edit_config_store is refused, even with a forged user frame', async () => {
    const mallory = await openRawClient(platform, 'victim', { userId: 'mallory' });
    try {
      const plain = await call(mallory, request('manage_store', ['victim', 'config', '{}', 'json'], 'imp.1'));
      expect(body(plain.reply).error?.data['exception.py'].exc_args).toEqual([
        -32001,
        "method 'manage_store' requires capabilities {'edit_config_store'}, but capability {} was provided for user mallory",
      ]);
      const forged = [
        'config.store',
        'VIP1',
        'victim',
        'imp.2.1',
        'RPC',
        '{"jsonrpc": "2.0", "method": "set_config", "params": ["victim", "config", "{}", "json"], "id": "imp.2"}',
      ];
      const refused = await call(mallory, forged);
      expect(body(refused.reply).error?.data['exception.py'].exc_args[0]).toBe(-32001);
      const other = await call(mallory, request('delete_store', [AGENT], 'imp.3'));
      expect(body(other.reply).error?.data['exception.py'].exc_args[0]).toBe(-32001);
      const list = await call(agent, request('list_configs', ['victim'], 'imp.4'));
      expect(body(list.reply).result).toEqual([]);
    } finally {
      await mallory.close();
    }
  });
});

describe('config.store: its auth.json entry', () => {
  it("an auth.json that drops config.store's entry is refused; the rules in force stay", async () => {
    const path = join(platform.home, 'auth.json');
    const text = await readFile(path, 'utf8');
    const good = JSON.parse(text) as { allow: { user_id: string }[] };
    expect(good.allow.map((e) => e.user_id)).toContain(STORE);
    const replace = async (content: string, verdict: string) => {
      const seen = platform.waitForLog(verdict, { timeoutMs: 10_000 });
      await writeFile(`${path}.test.tmp`, content);
      await rename(`${path}.test.tmp`, path);
      await seen;
    };
    await replace(JSON.stringify({ ...good, allow: good.allow.filter((e) => e.user_id !== STORE) }, null, 2), 'auth.reload.refused');
    const still = await call(agent, request('manage_store', [AGENT, 'after', 'x', 'raw'], 'guard.1'));
    expect(body(still.reply).result).toBeNull();
    await replace(text, 'auth.reloaded');
  });
});

describe('config.store: a store file that does not load', () => {
  it('a truncated store file stops the platform at start with its name, and is left as it is', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'vip-truncated-'));
    const truncatedPath = join(outside, 'truncated.store');
    const truncated = (await readFile(CAPTURED_STORE, 'utf8')).slice(0, 70);
    await writeFile(truncatedPath, truncated);
    try {
      const failure = await startPlatform({
        prepareHome: async (home) => {
          await mkdir(join(home, 'configuration_store'));
          await symlink(truncatedPath, join(home, 'configuration_store', `${AGENT}.store`));
        },
      }).then(
        (p) => p.close().then(() => 'started'),
        (err: unknown) => String(err),
      );
      expect(failure).toContain(`configuration_store/${AGENT}.store`);
      expect(failure).toContain('is not valid JSON');
      expect(await readFile(truncatedPath, 'utf8')).toBe(truncated);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
