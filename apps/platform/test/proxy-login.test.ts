import { describe, expect, it } from 'vitest';
import { ConfigError, silentLogger } from '@vip/protocol';
import { proxyLogin } from '../src/rmq-platform-user.js';

describe("proxyLogin: the proxy router's broker login", () => {
  it('a shared login is used as given (nothing to create, nothing proven)', async () => {
    const login = await proxyLogin({ url: 'amqp://guest:guest@127.0.0.1:5672', vhost: 'v', sharedLogin: true }, 'site1', silentLogger);
    expect(login.url).toBe('amqp://guest:guest@127.0.0.1:5672');
  });
  it('per-agent users without the management API: a ConfigError naming the user it would need', async () => {
    const refused = proxyLogin({ url: 'amqp://site1.router:pw@127.0.0.1:5672', vhost: 'v' }, 'site1', silentLogger);
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(/site1\.zmq\.proxy\.router.*--rmq-shared-login/);
  });
});
