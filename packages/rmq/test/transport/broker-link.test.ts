import { describe, expect, it } from 'vitest';
import { classifyConnectError } from '../../src/transport/broker-link.js';
import { TlsOptionsSchema } from '../../src/transport/rmq-options.js';

describe('classifyConnectError', () => {
  const classify = (err: unknown) => classifyConnectError(err, 'amqp://h:5672/v', 'v');
  it('names the missing piece and the fix', () => {
    expect(classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672'), { code: 'ECONNREFUSED' }))).toMatchObject({
      missing: 'broker',
      message: expect.stringMatching(/ensure-rabbitmq/),
    });
    expect(
      classify(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"')),
    ).toMatchObject({ missing: 'credentials' });
    expect(classify(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'))).toMatchObject({
      missing: 'vhost',
      message: expect.stringMatching(/rabbitmqctl add_vhost v/),
    });
    expect(classify(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toMatchObject({
      missing: 'credentials',
      message: expect.stringMatching(/TLS handshake/),
    });
    const other = classify('weird');
    expect(other).toMatchObject({ name: 'RmqSetupError', code: 'VIP_TRANSPORT', missing: 'broker' });
    expect(other.cause).toBe('weird');
  });
  it('names DNS for an unknown host instead of "start the broker"', () => {
    const unknown = classify(Object.assign(new Error('getaddrinfo ENOTFOUND h'), { code: 'ENOTFOUND' }));
    expect(unknown).toMatchObject({
      missing: 'broker',
      message: expect.stringMatching(
        /cannot resolve the broker host "h" \(DNS lookup failed: ENOTFOUND, unknown host\).*host name in the URL/,
      ),
    });
    expect(unknown.message).not.toMatch(/start the broker/);
    expect(classify(Object.assign(new Error('getaddrinfo EAI_AGAIN h'), { code: 'EAI_AGAIN' })).message).toMatch(
      /DNS lookup failed: EAI_AGAIN, a temporary resolver failure.*resolver/,
    );
  });
});

// Self-signed, CN=inst.unit-agent: only its subject is read (no handshake in unit tests).
const UNIT_CERT = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBijCCAS+gAwIBAgIUdTODdZ+d2pKrwCaGGQ1zRT2nry8wCgYIKoZIzj0EAwIw',
  'GjEYMBYGA1UEAwwPaW5zdC51bml0LWFnZW50MB4XDTI2MTEyNjA4MzkyOFoXDTI2',
  'MTEyNzA4MzkyOFowGjEYMBYGA1UEAwwPaW5zdC51bml0LWFnZW50MFkwEwYHKoZI',
  'zj0CAQYIKoZIzj0DAQcDQgAE4KbwUh2d001/aevR6fxPj3k3y17BHzklYJgihZCe',
  'uivJ3Q6v091w4lfqgp/GZC7u9KeMtONUkxTh0suMkO8TCaNTMFEwHQYDVR0OBBYE',
  'FFMayTTcoWMuKnWMbJBzFG/8cTQjMB8GA1UdIwQYMBaAFFMayTTcoWMuKnWMbJBz',
  'FG/8cTQjMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhANWyYcff',
  '7NzKYm2bO+NcUEpNp5WLl/u6e+7siMo1dZqtAiEAo5w1qOMBA79mwXo1Mm84SCXy',
  'P0+uyiP4N0vx96fCW7Q=',
  '-----END CERTIFICATE-----',
].join('\n');

describe('classifyConnectError over TLS', () => {
  const external = TlsOptionsSchema.parse({ cert: UNIT_CERT, external: true });
  const classify = (err: unknown) => classifyConnectError(err, 'amqps://h:5671/v', 'v', external);
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
  it('tells a refused client certificate (broker alert) from an untrusted broker certificate', () => {
    expect(classify(coded('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca'))).toMatchObject({
      missing: 'credentials',
      message: expect.stringMatching(/refused the client certificate.*"unknown ca".*tls\.cert/),
    });
    expect(classify(coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))).toMatchObject({
      missing: 'credentials',
      message: expect.stringMatching(/set tls\.cert and tls\.key/),
    });
    expect(classify(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'))).toMatchObject({
      missing: 'credentials',
      message: expect.stringMatching(/broker certificate is not trusted.*tls\.ca/),
    });
    expect(classify(coded('ERR_SSL_WRONG_VERSION_NUMBER'))).toMatchObject({
      missing: 'broker',
      message: expect.stringMatching(/does not speak TLS/),
    });
    expect(classify(coded('ECONNRESET'))).toMatchObject({ missing: 'broker', message: expect.stringMatching(/trusts tls\.cert/) });
  });
  it('names the certificate CN when the EXTERNAL login or the vhost is refused', () => {
    expect(
      classify(
        new Error(
          'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL"',
        ),
      ),
    ).toMatchObject({
      missing: 'credentials',
      message: expect.stringMatching(/EXTERNAL login of "inst\.unit-agent".*rabbitmqctl add_user inst\.unit-agent/),
    });
    expect(classify(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'))).toMatchObject({
      missing: 'vhost',
      message: expect.stringMatching(/set_permissions -p v inst\.unit-agent/),
    });
    const unreadable = classifyConnectError(
      new Error('ACCESS_REFUSED'),
      't',
      'v',
      TlsOptionsSchema.parse({ cert: 'not a cert', external: true }),
    );
    expect(unreadable.message).toMatch(/add_user <CN>/);
  });
  it('says when the broker offers no EXTERNAL', () => {
    expect(classify(new Error('SASL mechanism EXTERNAL is not provided by the server'))).toMatchObject({
      missing: 'plugin',
      message: expect.stringMatching(/rabbitmq_auth_mechanism_ssl/),
    });
  });
});
