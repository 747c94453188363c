import { describe, expect, it } from 'vitest';
import { classifyConnectError } from './broker-link.js';

describe('classifyConnectError', () => {
  const classify = (err: unknown) => classifyConnectError(err, 'amqp://h:5672/v', 'v');
  it('names the missing piece and the fix', () => {
    expect(classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672'), { code: 'ECONNREFUSED' })))
      .toMatchObject({ missing: 'broker', message: expect.stringMatching(/ensure-rabbitmq/) });
    expect(classify(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"')))
      .toMatchObject({ missing: 'credentials' });
    expect(classify(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>')))
      .toMatchObject({ missing: 'vhost', message: expect.stringMatching(/rabbitmqctl add_vhost v/) });
    expect(classify(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })))
      .toMatchObject({ missing: 'credentials', message: expect.stringMatching(/TLS handshake/) });
    const other = classify('weird');
    expect(other).toMatchObject({ name: 'RmqSetupError', code: 'VIP_TRANSPORT', missing: 'broker' });
    expect(other.cause).toBe('weird');
  });
});
