import { describe, expect, it } from 'vitest';
import { createJsonLogger, createLogger, createPrettyLogger } from '../src/logger.js';

const at = new Date(2025, 4, 1, 14, 3, 7, 123); // local time
const lines = () => {
  const out: string[] = [];
  return { out, write: (l: string) => void out.push(l), now: () => at };
};

describe('loggers', () => {
  it('JSON: one object per line with time, level, event, bindings, fields, error and its code', () => {
    const w = lines();
    const log = createJsonLogger({ ...w, bindings: { service: 's' } }).child({ part: 'p' });
    log.warn('thing.failed', { n: 2 }, Object.assign(new Error('boom'), { code: 'VIP_X' }));
    log.debug('hidden');
    expect(w.out.map((l) => JSON.parse(l))).toEqual([
      { time: at.toISOString(), level: 'warn', event: 'thing.failed', service: 's', part: 'p', n: 2, error: 'boom', errorCode: 'VIP_X' },
    ]);
  });

  it('pretty: local time, level, event and key=value, quoting what has spaces; no colour unless asked', () => {
    const w = lines();
    const log = createPrettyLogger({ ...w, level: 'debug', bindings: { service: 'vip-platform' } });
    log.info('platform.ready', { bus: 'zmq', addresses: 'ipc://@/h tcp://127.0.0.1:1', skipped: undefined, n: 3, ok: true });
    log.error('platform.stop.failed', undefined, new Error('it "broke"'));
    expect(w.out).toEqual([
      '2025-05-01 14:03:07.123 INFO  platform.ready service=vip-platform bus=zmq addresses="ipc://@/h tcp://127.0.0.1:1" n=3 ok=true',
      '2025-05-01 14:03:07.123 ERROR platform.stop.failed service=vip-platform error="it \\"broke\\""',
    ]);
    for (const l of w.out) expect(l).not.toContain('\u001b[');
  });

  it('pretty with colour colours the level; levels filter as in JSON', () => {
    const w = lines();
    const log = createLogger({ ...w, format: 'pretty', colour: true, level: 'warn' });
    log.info('quiet');
    log.warn('loud');
    expect(w.out).toHaveLength(1);
    expect(w.out[0]).toContain('\u001b[33mWARN ');
    expect(w.out[0]).toContain('loud');
    const j = lines();
    createLogger({ ...j, format: 'json' }).info('x');
    expect(JSON.parse(j.out[0]!)).toMatchObject({ level: 'info', event: 'x' });
  });
});
