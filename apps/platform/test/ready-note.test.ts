import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseCli, type PlatformConfig } from '../src/cli-options.js';
import { PLATFORM_VERSION } from '../src/platform.js';
import { readyNote } from '../src/ready-note.js';

function config(argv: string[]): PlatformConfig {
  const r = parseCli(['--vip-home', '/srv/vip-ready-note', ...argv], {});
  if (r.help) throw new Error('unexpected --help/--version');
  return r.config;
}

const ready = {
  addresses: ['ipc://@/srv/vip-ready-note/run/vip.socket', 'tcp://127.0.0.1:22916'],
  serverkey: 'K'.repeat(43),
  instance: 'vip1',
  pid: 1,
};

describe('--version', () => {
  it('is asked for like --help, and PLATFORM_VERSION is the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(parseCli(['--version'], {})).toEqual({ help: true, show: 'version' });
    expect(parseCli(['-V'], {})).toEqual({ help: true, show: 'version' });
    expect(parseCli(['--help'], {})).toEqual({ help: true, show: 'usage' });
    expect(PLATFORM_VERSION).toBe(version);
  });
});

describe('the ready note', () => {
  it('ZeroMQ with CURVE: one line with address, server key, home, vipctl auth add and auth.json', () => {
    const note = readyNote(config([]), ready);
    expect(note).not.toContain('\n');
    expect(note).toContain('tcp://127.0.0.1:22916');
    expect(note).not.toContain('ipc://');
    expect(note).toContain(`server key ${'K'.repeat(43)}`);
    expect(note).toContain('home /srv/vip-ready-note');
    expect(note).toContain('vipctl auth add --identity NAME');
    expect(note).toContain('/srv/vip-ready-note/auth.json');
  });

  it('CURVE off says any agent may connect; RabbitMQ points at the agent broker user and rmq.json', () => {
    expect(readyNote(config(['--allow-auth', 'false']), { ...ready, serverkey: null })).toMatch(/CURVE off.*Any agent may connect/);
    const rmq = readyNote(
      config(['--message-bus', 'rmq', '--rmq-url', 'amqp://vip1.router:pw@127.0.0.1:5672', '--rmq-management-url', 'off']),
      { ...ready, addresses: ['amqp://127.0.0.1:5672/vip1'] },
    );
    expect(rmq).toContain('amqp://127.0.0.1:5672/vip1 (rmq, instance vip1)');
    expect(rmq).toContain('/srv/vip-ready-note/keystores/NAME/rmq.json');
    expect(rmq).toContain("connectRmqAgent({ identity: 'NAME' })");
  });
});
