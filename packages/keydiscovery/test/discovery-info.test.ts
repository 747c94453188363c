import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToZ85 } from '@vip/protocol';
import { discoveryResponseText, linkableDiscovery, pickDiscoveryVipAddress, tcpAddressProblem } from '../src/discovery-info.js';
import { parseWebAddress } from '../src/web-address.js';

const key = generateKeyPair().public;

describe('pickDiscoveryVipAddress (quirk 12.14)', () => {
  it('publishes the first tcp address a remote can connect to, bare', () => {
    const bound = [
      'ipc://@/home/v/run/vip.socket',
      'tcp://0.0.0.0:22916',
      'tcp://[::]:22916',
      `tcp://10.0.0.2:22916?serverkey=${key}`,
      'tcp://127.0.0.1:1',
    ];
    expect(pickDiscoveryVipAddress(bound)).toBe('tcp://10.0.0.2:22916');
    expect(pickDiscoveryVipAddress(['tcp://127.0.0.1:22916'])).toBe('tcp://127.0.0.1:22916');
    expect(pickDiscoveryVipAddress(['ipc://@/x', 'tcp://*:22916'])).toBeUndefined();
  });

  it('explains why an address is not one to link to', () => {
    expect(tcpAddressProblem('tcp://0.0.0.0:22916')).toMatch(/wildcard/);
    expect(tcpAddressProblem('tcp://10.0.0.2:*')).toMatch(/no fixed port/);
    expect(tcpAddressProblem('ipc://@/x')).toMatch(/not a tcp address/);
    expect(tcpAddressProblem('tcp://nohost')).toMatch(/not a VIP address/);
    expect(tcpAddressProblem('tcp://[::1]:22916')).toBeUndefined();
  });
});

describe('linkableDiscovery', () => {
  it('normalises the key and the address', () => {
    expect(
      linkableDiscovery({ instanceName: 'b', vipAddress: `tcp://10.0.0.2:22916?serverkey=${key}#link`, serverKey: keyToZ85(key) }),
    ).toEqual({ instanceName: 'b', vipAddress: 'tcp://10.0.0.2:22916', serverKey: key });
  });

  it('says what is missing', () => {
    expect(linkableDiscovery({ instanceName: 'b' })).toMatch(/no vip-address/);
    expect(linkableDiscovery({ instanceName: 'b', vipAddress: 'tcp://10.0.0.2:22916' })).toMatch(/no serverkey/);
    const badName = { instanceName: 'b c', vipAddress: 'tcp://10.0.0.2:22916', serverKey: key };
    expect(linkableDiscovery(badName)).toMatch(/^instance-name may use only/);
  });
});

describe('discoveryResponseText', () => {
  it('is Python json.dumps text: spaces after separators, non-ASCII escaped', () => {
    expect(discoveryResponseText({ instanceName: 'b', rmqCaCert: 'é' })).toBe('{"instance-name": "b", "rmq-ca-cert": "\\u00e9"}');
  });
});

describe('parseWebAddress', () => {
  it('accepts http://host:port (a trailing slash too) and refuses the rest with a reason', () => {
    expect(parseWebAddress('http://10.0.0.2:8080/')).toMatchObject({
      text: 'http://10.0.0.2:8080',
      discoveryUrl: 'http://10.0.0.2:8080/discovery/',
      port: 8080,
    });
    expect(parseWebAddress('http://[::1]:8080')).toMatchObject({ host: '::1', port: 8080 });
    expect(parseWebAddress('http://example.org')).toMatchObject({ port: 80 });
    expect(() => parseWebAddress('10.0.0.2:8080')).toThrow(/is not a URL \(expected http:\/\/host:port\)/);
    expect(() => parseWebAddress('ftp://10.0.0.2')).toThrow(/must start with http:\/\//);
    expect(() => parseWebAddress('http://u:p@10.0.0.2:8080')).toThrow(/credentials/);
    expect(() => parseWebAddress('http://10.0.0.2:8080/discovery/')).toThrow(/no path/);
    expect(() => parseWebAddress('')).toThrow(/must be a URL/);
  });
});
