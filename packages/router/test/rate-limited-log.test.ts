import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '@vip/protocol';
import { silentLogger } from '@vip/protocol';
import { RateLimitedLog } from '../src/rate-limited-log.js';

describe('RateLimitedLog', () => {
  it('logs one line per event per interval and reports how many it suppressed', () => {
    const lines: Array<[string, LogFields | undefined]> = [];
    const logger: Logger = { ...silentLogger, debug: (e, f) => lines.push([e, f]) };
    let now = 0;
    const log = new RateLimitedLog(logger, { intervalMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) log.debug('router.dropped', { reason: 'x' });
    log.debug('other');
    now = 1000;
    log.debug('router.dropped', { reason: 'y' });
    expect(lines).toEqual([
      ['router.dropped', { reason: 'x' }],
      ['other', undefined],
      ['router.dropped', { reason: 'y', suppressed: 4 }],
    ]);
  });
});
