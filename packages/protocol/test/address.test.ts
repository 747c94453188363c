import { describe, expect, it } from 'vitest';
import { Address, type AddressParts } from '../src/address.js';
import { AddressError } from '../src/errors.js';
import { generateKeyPair, keyToZ85 } from '../src/keys.js';
import { seededPrng } from './seeded-prng.js';

const KEY = 'FSG7LHhy3v8tdNz3gK35G6-oxUcyln54pYRKu5fBJzU';

describe('Address.parse', () => {
  it('parses a full agent address', () => {
    const a = Address.parse(`tcp://127.0.0.1:22916?serverkey=${KEY}&publickey=${KEY}&secretkey=${KEY}#listener`);
    expect(a.scheme).toBe('tcp');
    expect(a.endpoint).toBe('127.0.0.1:22916');
    expect(a.base).toBe('tcp://127.0.0.1:22916');
    expect(a.identity).toBe('listener');
    expect(a.serverkey).toBe(KEY);
    expect(a.toString()).toBe(`tcp://127.0.0.1:22916?serverkey=${KEY}&publickey=${KEY}&secretkey=XXXXX#listener`);
    expect(a.toUrl({ unmasked: true })).toBe(`tcp://127.0.0.1:22916?serverkey=${KEY}&publickey=${KEY}&secretkey=${KEY}#listener`);
  });
  it.each<[string, Partial<AddressParts>]>([
    ['127.0.0.1:22916', { scheme: 'tcp', endpoint: '127.0.0.1:22916', identity: undefined }],
    ['TCP://*:22916', { scheme: 'tcp', endpoint: '*:22916' }],
    ['tcp://[::1]:*', { scheme: 'tcp', endpoint: '[::1]:*' }],
    ['ipc://@/home/v/run/vip.socket', { scheme: 'ipc', endpoint: '@/home/v/run/vip.socket' }],
    ['inproc://vip', { scheme: 'inproc', endpoint: 'vip' }],
    ['inproc://vip#', { identity: '' }],
    ['inproc://vip#a#b', { identity: 'a#b' }],
    ['tcp://h:1?SERVER=curve', { server: 'CURVE' }],
    ['tcp://h:1?server=plain&Domain=vip', { server: 'PLAIN', domain: 'vip' }],
    ['tcp://h:1?ipv6=1', { ipv6: true }],
    ['tcp://h:1?ipv6=yes', { ipv6: true }],
    ['tcp://h:1?ipv6=anything', { ipv6: true }],
    ['tcp://h:1?ipv6=0', { ipv6: false }],
    ['tcp://h:1?ipv6=False', { ipv6: false }],
    ['tcp://h:1?ipv6=NO', { ipv6: false }],
    ['tcp://h:1?ipv6=off', { ipv6: false }],
    ['tcp://h:1?ipv6=', { ipv6: false }],
    ['tcp://h:1?username=u&password=p%26w', { username: 'u', password: 'p&w' }],
    ['tcp://h:1?colour=blue&&x=1', { server: undefined }],
    [`tcp://h:1?serverkey=${keyToZ85(KEY)}`, { serverkey: KEY }],
    [`tcp://h:1?serverkey=${Buffer.from(KEY, 'base64url').toString('hex')}`, { serverkey: KEY }],
  ])('%s', (text, expected) => {
    expect(Address.parse(text)).toMatchObject(expected);
  });
  it.each([
    ['', /empty/],
    ['http://h:1', /unsupported address scheme "http"/],
    ['tcp:/h:1', /host:port/],
    ['://h:1', /malformed scheme/],
    ['tcp://', /no endpoint/],
    ['tcp://host', /host:port/],
    ['tcp://h:70000', /> 65535/],
    ['tcp://h:1?server=kerberos', /server="kerberos" is invalid/],
    ['tcp://h:1?serverkey=abc', /serverkey is not a CURVE key/],
    ['tcp://h:1?secretkey=' + 'z'.repeat(43) + '!', /secretkey is not a CURVE key/],
    ['tcp://h:1?ipv6', /has no value/],
    ['tcp://h:1?password=%E0%A4%A', /malformed %-escape/],
  ])('rejects %j', (text, why) => {
    expect(() => Address.parse(text)).toThrow(AddressError);
    expect(() => Address.parse(text)).toThrow(why);
  });
  it('masks the password and renders ipv6 so that it parses back', () => {
    const a = Address.parse('tcp://h:1?ipv6=on&username=admin&password=hunter2');
    expect(a.toString()).toBe('tcp://h:1?ipv6=true&username=admin&password=XXXXX');
    expect(JSON.stringify({ a })).not.toContain('hunter2');
    expect(Address.parse(a.toUrl({ unmasked: true })).password).toBe('hunter2');
  });
  it('with() adds and removes parameters', () => {
    const a = Address.parse('tcp://h:1#agent').with({ serverkey: keyToZ85(KEY), server: 'CURVE' });
    expect(a.toString()).toBe(`tcp://h:1?server=CURVE&serverkey=${KEY}#agent`);
    expect(a.with({ serverkey: undefined, identity: undefined }).toString()).toBe('tcp://h:1?server=CURVE');
    expect(() => a.with({ scheme: 'udp' as never })).toThrow(AddressError);
  });
});

describe('Address render/parse round trip (property)', () => {
  it('parse(toUrl(unmasked)) reproduces every random address', () => {
    const rng = seededPrng(0xadd7e55);
    const chars = 'abcXYZ019_.-:/@ %&=+?#é';
    const text = (max: number) => Array.from({ length: 1 + rng.int(max) }, () => rng.pick([...chars])).join('');
    const keys = Array.from({ length: 4 }, () => generateKeyPair().public);
    for (let i = 0; i < 2000; i++) {
      const scheme = rng.pick(['tcp', 'ipc', 'inproc'] as const);
      const endpoint =
        scheme === 'tcp'
          ? `${rng.pick(['127.0.0.1', '*', '[::1]', 'eth0;10.0.0.1'])}:${rng.pick([String(rng.int(65536)), '*'])}`
          : text(12).replace(/[?#]/g, 'q');
      const maybe = <T>(v: T): T | undefined => (rng.int(2) ? v : undefined);
      const parts: AddressParts = {
        scheme,
        endpoint,
        identity: maybe(rng.int(3) === 0 ? '' : text(8)),
        server: maybe(rng.pick(['NULL', 'PLAIN', 'CURVE'] as const)),
        domain: maybe(text(6)),
        serverkey: maybe(rng.pick(keys)),
        publickey: maybe(rng.pick(keys)),
        secretkey: maybe(rng.pick(keys)),
        ipv6: maybe(rng.int(2) === 1),
        username: maybe(text(6)),
        password: maybe(text(6)),
      };
      const a = new Address(parts);
      const back = Address.parse(a.toUrl({ unmasked: true }));
      expect(back.toUrl({ unmasked: true })).toBe(a.toUrl({ unmasked: true }));
      expect(back).toEqual(a);
      expect(a.toString().startsWith(a.base)).toBe(true);
      if (a.password !== undefined) expect(a.toString()).toContain('password=XXXXX');
    }
  });
});
