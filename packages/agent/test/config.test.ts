// agent.config against a stand-in `config.store` on the in-memory router: VOLTTRON's callback
// rules (configstore.py) for patterns, actions, defaults, links and DELETE_ALL.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, kwargs, type ConfigCallbackAction } from '../src/index.js';
import { MemoryRouter } from '@vip/testing';

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

interface Setup {
  readonly store: Agent;
  readonly cfg: Agent;
  readonly events: [string, ConfigCallbackAction, unknown][];
  readonly stored: Map<string, unknown>;
  push(action: string, name: string | null, contents?: unknown): Promise<unknown>;
}

/** A stand-in store holding `initial`, and an agent `cfg` configured by `prepare` before it starts. */
async function setup(initial: Record<string, unknown>, prepare: (cfg: Agent, events: Setup['events']) => void): Promise<Setup> {
  const router = new MemoryRouter();
  const store = new Agent({ identity: 'config.store', connection: router.connect('config.store'), rpc: { timeoutMs: 1_000 } });
  agents.push(store);
  store.rpc.export(
    'initialize_configs',
    async (identity: string) => {
      await store.rpc.call(identity, 'config.initial_update', initial);
      return null;
    },
    { params: ['identity'] },
  );
  const stored = new Map<string, unknown>();
  store.rpc.export('set_config', (_id: string, name: string, raw: string, type: string) => void stored.set(name, [raw, type]), {
    params: [
      'identity',
      'config_name',
      'raw_contents',
      'config_type',
      { name: 'trigger_callback', default: false },
      { name: 'send_update', default: true },
    ],
  });
  await store.start();
  const cfg = new Agent({ identity: 'cfg', connection: router.connect('cfg'), rpc: { timeoutMs: 1_000 } });
  agents.push(cfg);
  const events: Setup['events'] = [];
  prepare(cfg, events);
  await cfg.start();
  const push = (action: string, name: string | null, contents?: unknown) =>
    store.rpc.call(
      'cfg',
      'config.update',
      action,
      name,
      kwargs({ ...(contents === undefined ? {} : { contents }), trigger_callback: true }),
    );
  return { store, cfg, events, stored, push };
}

describe('agent.config', () => {
  it('patterns and actions filter the callbacks; names are matched lower-cased; shown as stored', async () => {
    const s = await setup({ 'Devices/AHU1': { a: 1 }, config: { x: 1 } }, (cfg, events) => {
      cfg.config.subscribe((n, a, c) => void events.push([n, a, c]), { pattern: 'devices/*', actions: 'UPDATE' });
      cfg.config.subscribe((n, a, c) => void events.push([`all:${n}`, a, c]), { actions: ['NEW', 'DELETE'] });
    });
    expect(s.events).toEqual([
      ['all:config', 'NEW', { x: 1 }],
      ['all:Devices/AHU1', 'NEW', { a: 1 }],
    ]);
    s.events.length = 0;
    await s.push('UPDATE', 'Devices/AHU1', { a: 2 });
    await s.push('DELETE', 'config');
    expect(s.events).toEqual([
      ['Devices/AHU1', 'UPDATE', { a: 2 }],
      ['all:config', 'DELETE', null],
    ]);
    expect(await s.cfg.config.list()).toEqual(['Devices/AHU1']);
  });

  it('a config that links to a changed one is called back too; get resolves links; DELETE_ALL falls back to the defaults', async () => {
    const s = await setup({ points: [{ p: 1 }], config: { points: 'config://points' } }, (cfg, events) => {
      cfg.config.setDefault('mode', 'auto');
      cfg.config.subscribe((n, a, c) => void events.push([n, a, c]));
    });
    expect(s.events.map(([n, a]) => `${n} ${a}`)).toEqual(['config NEW', 'points NEW', 'mode NEW']);
    expect(await s.cfg.config.get()).toEqual({ points: [{ p: 1 }] });
    s.events.length = 0;
    await s.push('UPDATE', 'points', [{ p: 2 }]);
    expect(s.events).toEqual([
      ['config', 'UPDATE', { points: [{ p: 2 }] }],
      ['points', 'UPDATE', [{ p: 2 }]],
    ]);
    s.events.length = 0;
    await s.push('NEW', 'mode', 'manual');
    expect(s.events).toEqual([['mode', 'UPDATE', 'manual']]); // a default existed
    s.events.length = 0;
    await s.push('DELETE_ALL', null);
    expect(s.events).toEqual([
      ['config', 'DELETE', null],
      ['points', 'DELETE', null],
      ['mode', 'UPDATE', 'auto'],
    ]);
    await expect(s.cfg.config.get('config')).rejects.toThrow('config not in store');
  });

  it('set sends JSON for objects and raw text for strings; set inside a callback is refused', async () => {
    let refusal: unknown;
    const s = await setup({}, (cfg) => {
      cfg.config.subscribe(async () => {
        refusal = await cfg.config.set('x', 'y').catch((err: unknown) => err);
      });
    });
    await s.cfg.config.set('obj', { a: [1, 'é'] });
    await s.cfg.config.set('text', 'hello');
    expect(s.stored.get('obj')).toEqual(['{"a": [1, "\\u00e9"]}', 'json']); // Python's json.dumps text
    expect(s.stored.get('text')).toEqual(['hello', 'raw']);
    await s.push('NEW', 'trigger', 'z');
    expect(String(refusal)).toContain('Cannot set a config from a configuration callback');
    expect(() => s.cfg.config.subscribe(() => undefined, { actions: ['CHANGED' as ConfigCallbackAction] })).toThrow(
      'invalid config action',
    );
  });

  it('config.update and config.initial_update from anyone but config.store are refused', async () => {
    const router = new MemoryRouter();
    const cfg = new Agent({ identity: 'cfg', connection: router.connect('cfg'), rpc: { timeoutMs: 1_000 }, config: true });
    const mallory = new Agent({ identity: 'mallory', connection: router.connect('mallory'), rpc: { timeoutMs: 1_000 } });
    agents.push(cfg, mallory);
    await mallory.start();
    await cfg.start(); // no config.store on this router: logged, the agent starts anyway
    await expect(mallory.rpc.call('cfg', 'config.initial_update', { config: { evil: true } })).rejects.toThrow(
      'accepted only from config.store',
    );
    await expect(
      mallory.rpc.call('cfg', 'config.update', 'NEW', 'config', kwargs({ contents: {}, trigger_callback: true })),
    ).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
  });
});
