import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpConfig, isLoopbackHost } from '../../src/status/http-options.js';
import { RateHistory, RATE_SAMPLE_BYTES } from '../../src/status/rate-history.js';

describe('status server options', () => {
  it('loopback: 127.0.0.0/8, ::1, localhost; nothing else', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('a non-loopback bind without a token is refused; a short token too; a token file needs --http', async () => {
    expect(httpConfig('127.0.0.1:8080', undefined)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(httpConfig('[::1]:0', undefined)).toEqual({ host: '::1', port: 0 });
    expect(() => httpConfig('0.0.0.0:8080', undefined)).toThrow(/not a loopback address: give --http-token-file/);
    const dir = await mkdtemp(join(tmpdir(), 'vip-http-'));
    await writeFile(join(dir, 'short'), 'abc\n');
    await writeFile(join(dir, 'good'), 'a-long-enough-random-token\nignored\n');
    expect(() => httpConfig('127.0.0.1:1', join(dir, 'short'))).toThrow(/16 characters or more/);
    expect(httpConfig('0.0.0.0:8080', join(dir, 'good'))).toEqual({ host: '0.0.0.0', port: 8080, token: 'a-long-enough-random-token' });
    expect(() => httpConfig(undefined, join(dir, 'good'))).toThrow(/needs --http/);
    expect(() => httpConfig('127.0.0.1:1', join(dir, 'absent'))).toThrow(/cannot read it \(ENOENT\)/);
  });
});

describe('RateHistory', () => {
  it('holds at most maxBytes of samples, the oldest overwritten, oldest first', () => {
    const h = new RateHistory(3 * RATE_SAMPLE_BYTES);
    expect(h.capacity).toBe(3);
    expect(h.bytes).toBe(3 * RATE_SAMPLE_BYTES);
    for (let t = 1; t <= 5; t++) h.push({ t, messages: t * 10, deliveries: t, drops: 0 });
    expect(h.samples().map((s) => s.t)).toEqual([3, 4, 5]);
    expect(h.samples(2)).toEqual([
      { t: 4, messages: 40, deliveries: 4, drops: 0 },
      { t: 5, messages: 50, deliveries: 5, drops: 0 },
    ]);
    expect(h.bytes).toBe(3 * RATE_SAMPLE_BYTES);
  });
});
