import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@vip/protocol';
import { parseCli, type RmqBusConfig } from '../src/cli-options.js';

/** Real PEM files made by openssl: a CA, a client certificate and key, an encrypted copy of the key, a second key. */
const run = promisify(execFile);
let dir: string;
const p = (name: string) => join(dir, name);
const URL_TLS = 'amqps://broker.example:5671';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vip-tls-opts-'));
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await ssl('req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test ca');
  await ssl('req', ...newKey, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=v1.router');
  await ssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
  );
  await ssl('req', ...newKey, '-keyout', 'other.key', '-out', 'other.csr', '-subj', '/CN=other');
  await writeFile(p('pass.txt'), 's3cret\n');
  await ssl('pkcs8', '-topk8', '-in', 'ca.key', '-out', 'ca-enc.key', '-passout', 'pass:s3cret');
  await ssl('pkcs8', '-topk8', '-in', 'client.key', '-out', 'client-enc.key', '-passout', 'pass:s3cret');
  await writeFile(p('not.pem'), 'hello\n');
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rmqBase = ['--vip-home', '/nonexistent/h', '--message-bus', 'rmq', '--instance-name', 'v1', '--rmq-management-url', 'off'];
function rmqOf(...argv: string[]): RmqBusConfig {
  const r = parseCli([...rmqBase, ...argv], {});
  if (r.help || !r.config.rmq) throw new Error('expected an rmq config');
  return r.config.rmq;
}
const client = () => ['--rmq-url', URL_TLS, '--rmq-ca', p('ca.crt'), '--rmq-cert', p('client.crt'), '--rmq-key', p('client.key')];

describe('vip-platform TLS options for RabbitMQ', () => {
  it('reads the PEM files for the links and keeps their paths for bus.json; EXTERNAL and the broker user', () => {
    const rmq = rmqOf(...client(), '--rmq-external', '--rmq-broker-user', 'v1.router', '--rmq-servername', 'broker.example');
    expect(rmq.tls?.files).toEqual({
      ca: p('ca.crt'),
      cert: p('client.crt'),
      key: p('client.key'),
      servername: 'broker.example',
      external: true,
    });
    expect(rmq.tls?.pem.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(rmq.tls?.pem.key).toMatch(/PRIVATE KEY-----/);
    expect(rmq.tls?.pem).toMatchObject({ servername: 'broker.example', external: true });
    expect(rmq.brokerUser).toBe('v1.router');
  });

  it('--rmq-ca-key (also in the config file): checked against --rmq-ca, kept as a path only, never in the PEM the links get', async () => {
    const rmq = rmqOf(...client(), '--rmq-external', '--rmq-ca-key', p('ca.key'));
    expect(rmq.tls?.files).toEqual({ ca: p('ca.crt'), caKey: p('ca.key'), cert: p('client.crt'), key: p('client.key'), external: true });
    expect(JSON.stringify(rmq.tls?.pem)).not.toContain(await readFile(p('ca.key'), 'utf8').then((t) => t.split('\n')[1]));
    const home = join(dir, 'home-ca-key');
    await mkdir(home, { recursive: true });
    // a password login without the management API: the shared login (the platform could not create its own user)
    await writeFile(
      join(home, 'config'),
      `[volttron]\nmessage-bus = rmq\nrmq-management-url = off\nrmq-url = ${URL_TLS}\nrmq-ca = ${p('ca.crt')}\nrmq-ca-key = ${p('ca.key')}\nrmq-shared-login = true\n`,
    );
    const r = parseCli(['--vip-home', home], {});
    expect(!r.help && r.config.rmq?.tls?.files).toEqual({ ca: p('ca.crt'), caKey: p('ca.key'), external: false });
  });

  it('no TLS option: no tls (amqps alone trusts the system CAs); a CA alone is fine with a password login', () => {
    // the URL logs in as the platform's own user (no management API to create it)
    expect(rmqOf('--rmq-url', 'amqps://v1.router:p@b:5671').tls).toBeUndefined();
    expect(rmqOf('--rmq-url', 'amqps://v1.router:p@b:5671', '--rmq-ca', p('ca.crt')).tls?.files).toEqual({
      ca: p('ca.crt'),
      external: false,
    });
  });

  it('an encrypted key opens with --rmq-key-passphrase-file (first line, newline dropped)', () => {
    const rmq = rmqOf(...client().slice(0, -1), p('client-enc.key'), '--rmq-key-passphrase-file', p('pass.txt'), '--rmq-shared-login');
    expect(rmq.tls?.pem.passphrase).toBe('s3cret');
    expect(rmq.tls?.files.passphraseFile).toBe(p('pass.txt'));
  });

  it('the config file takes the same keys; its relative paths are from VIP_HOME; the command line wins', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, 'tls'), { recursive: true });
    await run('cp', [p('ca.crt'), p('client.crt'), p('client.key'), join(home, 'tls')]);
    await writeFile(
      join(home, 'config'),
      [
        '[volttron]',
        'message-bus = rmq',
        'instance-name = v1',
        `rmq-url = ${URL_TLS}`,
        'rmq-management-url = off',
        'rmq-ca = tls/ca.crt',
        'rmq-cert = tls/client.crt',
        'rmq-key = tls/client.key',
        'rmq-external = true',
        'rmq-broker-user = v1.router',
        '',
      ].join('\n'),
    );
    const r = parseCli(['--vip-home', home], {});
    expect(!r.help && r.config.rmq?.tls?.files).toEqual({
      ca: join(home, 'tls/ca.crt'),
      cert: join(home, 'tls/client.crt'),
      key: join(home, 'tls/client.key'),
      external: true,
    });
    const cli = parseCli(['--vip-home', home, '--rmq-ca', p('ca.crt')], {});
    expect(!cli.help && cli.config.rmq?.tls?.files.ca).toBe(p('ca.crt'));
    await writeFile(join(home, 'config'), '[volttron]\nmessage-bus = rmq\nrmq-external = maybe\n');
    expect(() => parseCli(['--vip-home', home], {})).toThrow(/invalid setting in .*config: --rmq-external must be true or false/);
  });

  it.each([
    [
      () => [...client(), '--rmq-external'].filter((a) => a !== '--rmq-cert' && a !== p('client.crt')),
      /--rmq-external needs --rmq-cert and --rmq-key/,
    ],
    [() => ['--rmq-url', URL_TLS, '--rmq-cert', p('client.crt')], /--rmq-cert and --rmq-key go together/],
    [() => ['--rmq-url', URL_TLS, '--rmq-key-passphrase-file', p('pass.txt')], /--rmq-key-passphrase-file needs --rmq-key/],
    [
      () => [...client(), '--rmq-external', '--rmq-url', 'amqp://127.0.0.1:5672'],
      /--rmq-external needs an amqps:\/\/ --rmq-url \(got amqp:\/\/127\.0\.0\.1:5672\)/,
    ],
    [() => [...client(), '--rmq-url', 'amqp://u:p@h:5672'], /--rmq-ca, --rmq-cert, --rmq-key and --rmq-servername need an amqps/],
    [() => [...client(), '--rmq-external', '--rmq-url', 'amqps://u:p@h:5671'], /--rmq-external logs in by certificate: drop user:password/],
    [() => [...client(), '--rmq-broker-user', 'v1.router'], /--rmq-broker-user needs --rmq-external/],
    [() => [...client(), '--rmq-servername', 'a b'], /--rmq-servername must be a host name/],
    [() => [...client().slice(0, 3), p('missing.crt'), ...client().slice(4)], /--rmq-ca .*missing\.crt: cannot read it \(ENOENT\)/],
    [
      () => [...client().slice(0, 5), p('not.pem'), ...client().slice(6)],
      /--rmq-cert .*not\.pem is not a PEM file with a CERTIFICATE block/,
    ],
    [() => [...client().slice(0, 7), p('client.crt')], /--rmq-key .*client\.crt is not a PEM file with a PRIVATE KEY block/],
    [() => [...client().slice(0, 7), p('other.key')], /--rmq-key .*other\.key is not the private key of --rmq-cert/],
    [
      () => [...client().slice(0, 7), p('client-enc.key')],
      /--rmq-key .*client-enc\.key: cannot read the private key \(encrypted\? pass --rmq-key-passphrase-file\)/,
    ],
    [() => [...client().slice(0, 7), p('client-enc.key'), '--rmq-key-passphrase-file', p('not.pem')], /wrong --rmq-key-passphrase-file/],
    [() => [...client().slice(4), '--rmq-url', URL_TLS, '--rmq-ca-key', p('ca.key')], /--rmq-ca-key needs --rmq-ca/],
    [() => [...client(), '--rmq-ca-key', p('other.key')], /--rmq-ca-key .*other\.key is not the private key of --rmq-ca .*ca\.crt/],
    [() => [...client(), '--rmq-ca-key', p('ca.crt')], /--rmq-ca-key .*ca\.crt is not a PEM file with a PRIVATE KEY block/],
    [
      () => [...client(), '--rmq-ca-key', p('ca-enc.key')],
      /--rmq-ca-key .*ca-enc\.key: cannot read the private key \(it must not be encrypted\)/,
    ],
    [() => [...client(), '--rmq-ca-key', p('absent.key')], /--rmq-ca-key .*absent\.key: cannot read it \(ENOENT\)/],
  ])('refuses bad TLS settings with one ConfigError line (%#)', (argv, why) => {
    const attempt = () => parseCli([...rmqBase, ...argv()], {});
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(why);
  });

  it('TLS options are ignored on the zmq bus (as the other --rmq-* options)', () => {
    const r = parseCli(['--vip-home', '/h', '--rmq-cert', p('missing.crt')], {});
    expect(!r.help && r.config.rmq).toBeUndefined();
  });
});
