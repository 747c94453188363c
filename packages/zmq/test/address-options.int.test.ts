import { describe, expect, it, onTestFinished } from 'vitest';
import { Context, Reply, Router } from 'zeromq';
import { Address, ConfigError, generateKeyPair, keyToZ85, textFrame } from '@vip/protocol';
import { ZmqConnection } from '../src/connection.js';
import { bindSocketOptions, connectSocketOptions } from '../src/address-options.js';
import { ZmqRouterTransport } from '../src/router-transport.js';

/**
 * VOLTTRON's Address parameters applied to the sockets (docs/protocol.md 5.2): a connect address's
 * `username`/`password` (PLAIN client), `ipv6`; a bind address's `ipv6`, `domain`, `server`.
 * The PLAIN and ipv6 cases talk to real zeromq.js sockets on 127.0.0.1 and ::1.
 */
describe('Address parameters as socket options', () => {
  it('connect: CURVE with a server key, else PLAIN with username and password, else NULL; ipv6 off unless asked', () => {
    const server = generateKeyPair();
    const own = generateKeyPair();
    const curve = connectSocketOptions(
      Address.parse(`tcp://h:1?serverkey=${server.public}&publickey=${own.public}&secretkey=${own.secret}&username=u&password=p`),
    );
    expect(curve).toEqual({
      ipv6: false,
      curveServerKey: keyToZ85(server.public),
      curvePublicKey: keyToZ85(own.public),
      curveSecretKey: keyToZ85(own.secret),
    });
    expect(connectSocketOptions(Address.parse('tcp://h:1?username=alice&password=s3cret&ipv6=yes'))).toEqual({
      ipv6: true,
      plainUsername: 'alice',
      plainPassword: 's3cret',
    });
    expect(connectSocketOptions(Address.parse('tcp://h:1?username=alice'))).toEqual({ ipv6: false });
    expect(connectSocketOptions(Address.parse('tcp://h:1?ipv6=off'))).toEqual({ ipv6: false });
    // a key given beside the address (keystore, options) wins over none in it
    expect(connectSocketOptions(Address.parse('tcp://h:1'), { serverKey: server.public })).toMatchObject({
      curveServerKey: keyToZ85(server.public),
    });
  });

  it('bind: ipv6 if any address asks, one ZAP domain, and only the server mechanism the platform serves', () => {
    expect(bindSocketOptions(['ipc://@/x', 'tcp://[::1]:0?ipv6=1&domain=site'], 'CURVE')).toEqual({ ipv6: true, zapDomain: 'site' });
    expect(bindSocketOptions(['tcp://127.0.0.1:0?server=CURVE'], 'CURVE')).toEqual({ ipv6: false, zapDomain: undefined });
    expect(() => bindSocketOptions(['tcp://127.0.0.1:0?server=PLAIN'], 'CURVE')).toThrow(ConfigError);
    expect(() => bindSocketOptions(['tcp://127.0.0.1:0?server=NULL'], 'CURVE')).toThrow(
      /server=NULL is not supported here; this platform serves CURVE/,
    );
    expect(() => bindSocketOptions(['tcp://127.0.0.1:0?domain=a', 'tcp://127.0.0.1:1?domain=b'], 'CURVE')).toThrow(/different ZAP domains/);
  });

  it('a connection with username and password logs in by PLAIN (the ZAP handler sees the credentials)', async () => {
    const context = new Context();
    const zap = new Reply({ context, linger: 0 });
    onTestFinished(() => zap.close());
    await zap.bind('inproc://zeromq.zap.01');
    const router = new Router({ context, linger: 0, plainServer: true, zapDomain: 'plain-test' });
    onTestFinished(() => router.close());
    await router.bind('tcp://127.0.0.1:0');
    const seen: string[][] = [];
    const answering = (async () => {
      for await (const request of zap) {
        const frames = request.map((f) => f.toString());
        seen.push(frames);
        await zap.send([frames[0] ?? '1.0', frames[1] ?? '', '200', 'OK', 'alice', '']);
      }
    })().catch(() => undefined);
    const c = new ZmqConnection({ identity: 'plain.agent', address: `${router.lastEndpoint}?username=alice&password=s3cret`, context });
    onTestFinished(() => c.close());
    await c.open();
    await c.send({
      peer: textFrame(''),
      user: textFrame(''),
      id: textFrame('1'),
      subsystem: textFrame('hello'),
      args: [textFrame('hello')],
    });
    const got = await router.receive();
    expect(got.map(String).slice(0, 3)).toEqual(['plain.agent', '', 'VIP1']);
    expect(seen[0]?.slice(2)).toEqual(['plain-test', '127.0.0.1', '', 'PLAIN', 'alice', 's3cret']);
    zap.close();
    await answering;
  });

  it('ipv6=true lets a connection and the router transport use an IPv6 literal', async () => {
    const transport = new ZmqRouterTransport({ addresses: ['tcp://[::1]:0?ipv6=true'] });
    onTestFinished(() => transport.close());
    await transport.start({ message: () => undefined });
    const endpoint = transport.endpoints[0] ?? '';
    expect(endpoint).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
    const c = new ZmqConnection({ identity: 'v6.agent', address: `${endpoint}?ipv6=true` });
    onTestFinished(() => c.close());
    await c.open();
    const plain = new ZmqRouterTransport({ addresses: ['tcp://[::1]:0'] });
    onTestFinished(() => plain.close());
    await expect(plain.start({ message: () => undefined })).rejects.toThrow();
  });
});
