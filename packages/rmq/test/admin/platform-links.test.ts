import { describe, expect, it } from 'vitest';
import {
  federationPolicy,
  FEDERATION_QUEUE_EXPIRES_MS,
  federationUpstreams,
  parseFederationConfig,
  parseShovelConfig,
  redactUri,
  shovelSpecs,
} from '../../src/admin/platform-links.js';

describe('VOLTTRON federation and shovel files', () => {
  it('names the upstream upstream-<host>-<vhost> and logs in as federation-user', () => {
    const c = parseFederationConfig({
      'federation-upstream': { 'site-b': { port: 5672, 'virtual-host': 'volttron', 'federation-user': 'fed', password: 'p w' } },
    });
    expect(federationUpstreams(c)).toEqual([
      {
        name: 'upstream-site-b-volttron',
        host: 'site-b',
        value: {
          uri: 'amqp://fed:p%20w@site-b:5672/volttron',
          // the upstream keeps the link's queue (and what it collects) while the link is down or its plugin restarts
          'ack-mode': 'on-confirm',
          'resource-cleanup-mode': 'never',
          expires: FEDERATION_QUEUE_EXPIRES_MS,
        },
      },
    ]);
    expect(federationPolicy()).toEqual({
      pattern: '^volttron',
      definition: { 'federation-upstream-set': 'all' },
      priority: 0,
      'apply-to': 'exchanges',
    });
  });

  it("uses VOLTTRON's amqps URI with certificates", () => {
    const c = parseFederationConfig({
      'federation-upstream': {
        h: {
          port: 5671,
          'virtual-host': 'v',
          'federation-user': 'u',
          certificates: { remote_ca: '/ca', public_cert: '/c', private_key: '/k' },
        },
      },
    });
    expect(federationUpstreams(c)[0]?.value.uri).toBe(
      'amqps://h:5671/v?cacertfile=%2Fca&certfile=%2Fc&keyfile=%2Fk&verify=verify_peer&server_name_indication=h',
    );
  });

  it("names pubsub shovels by topic and RPC shovels by local identity, with VOLTTRON's keys", () => {
    const c = parseShovelConfig({
      shovel: {
        h: {
          port: 5672,
          'virtual-host': 'b',
          'shovel-user': 'guest',
          password: 'guest',
          pubsub: { pub: ['devices/ahu', 'alerts'] },
          rpc: { b: [['cli', 'srv']] },
        },
      },
    });
    const s = shovelSpecs(c, 'a', 'amqp:///a');
    expect(s.map((x) => [x.name, x.kind, x.value['src-exchange-key']])).toEqual([
      ['shovel-h-devices/ahu', 'pubsub', '__pubsub__.a.devices.ahu.#'],
      ['shovel-h-alerts', 'pubsub', '__pubsub__.a.alerts.#'],
      ['shovel-h-cli', 'rpc', 'b.srv.#'],
    ]);
    expect(s[0]?.value).toMatchObject({
      'src-uri': 'amqp:///a',
      'src-exchange': 'volttron',
      'dest-exchange': 'volttron',
      'dest-uri': 'amqp://guest:guest@h:5672/b',
    });
  });

  it('refuses a file with a missing key, naming it', () => {
    expect(() => parseFederationConfig({ 'federation-upstream': { h: { port: 5672 } } })).toThrow(
      /rabbitmq_federation_config.yml: federation-upstream.h.virtual-host/,
    );
    expect(() =>
      parseShovelConfig({ shovel: { h: { port: 1, 'virtual-host': 'v', 'shovel-user': 'u', rpc: { b: [['only-one']] } } } }),
    ).toThrow(/rabbitmq_shovel_config.yml/);
  });

  it('hides passwords in printed URIs', () => {
    expect(redactUri('amqp://u:secret@h:5672/v')).toBe('amqp://u:***@h:5672/v');
  });
});
