import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPlatformLog, LogFileError } from '../src/log-output.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function fakeStderr(isTTY: boolean) {
  const lines: string[] = [];
  return { isTTY, lines, write: (t: string) => void lines.push(t) };
}

describe('the platform log', () => {
  it('JSON lines when stderr is not a terminal; pretty (coloured) when it is; --log-format decides over both', () => {
    const pipe = fakeStderr(false);
    createPlatformLog({ logLevel: 'info' }, pipe, {}).logger.info('platform.ready', { bus: 'zmq' });
    expect(JSON.parse(pipe.lines[0]!)).toMatchObject({ level: 'info', event: 'platform.ready', bus: 'zmq', service: 'vip-platform' });
    const tty = fakeStderr(true);
    const out = createPlatformLog({ logLevel: 'info' }, tty, {});
    out.logger.info('platform.ready', { bus: 'zmq' });
    expect(out.format).toBe('pretty');
    expect(tty.lines[0]).toMatch(/^\S*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\S* \S*INFO .*platform\.ready/);
    expect(tty.lines[0]).toContain('\u001b[');
    const noColour = fakeStderr(true);
    createPlatformLog({ logLevel: 'info' }, noColour, { NO_COLOR: '1' }).logger.info('x');
    expect(noColour.lines[0]).not.toContain('\u001b[');
    const forced = fakeStderr(true);
    createPlatformLog({ logLevel: 'info', logFormat: 'json' }, forced, {}).logger.info('x');
    expect(JSON.parse(forced.lines[0]!)).toMatchObject({ event: 'x' });
    const pretty = fakeStderr(false);
    createPlatformLog({ logLevel: 'info', logFormat: 'pretty' }, pretty, {}).logger.warn('y', { n: 1 });
    expect(pretty.lines[0]).toMatch(/ WARN  y service=vip-platform n=1\n$/);
  });

  it('--log-file appends JSON lines (0600) and writes nothing to stderr; pretty on request, never coloured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vip-log-'));
    dirs.push(dir);
    const path = join(dir, 'platform.log');
    const tty = fakeStderr(true);
    const first = createPlatformLog({ logLevel: 'info', logFile: path }, tty, {});
    first.logger.info('one', { n: 1 });
    first.close();
    const second = createPlatformLog({ logLevel: 'info', logFile: path, logFormat: 'pretty' }, tty, {});
    second.logger.info('two');
    second.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'one', n: 1 });
    expect(lines[1]).toMatch(/ INFO  two service=vip-platform$/);
    expect(lines[1]).not.toContain('\u001b[');
    expect(tty.lines).toEqual([]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('a log file that cannot be opened is one clear error', () => {
    expect(() => createPlatformLog({ logLevel: 'info', logFile: '/nonexistent-dir/x.log' }, fakeStderr(false), {})).toThrow(LogFileError);
    expect(() => createPlatformLog({ logLevel: 'info', logFile: '/nonexistent-dir/x.log' }, fakeStderr(false), {})).toThrow(
      /cannot open --log-file \/nonexistent-dir\/x\.log \(ENOENT\)/,
    );
  });
});
