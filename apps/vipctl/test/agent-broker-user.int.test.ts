import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureVolttronBroker, RabbitMqManagement } from '@vip/rmq/admin';
import { AMQP_URL, MANAGEMENT, vhostFixture } from '@vip/testing';
import { createAgentBrokerUser, readAgentRmqFile } from '../src/agent-broker-user.js';

/**
 * `vipctl auth add --identity` on the real broker, with no platform serving the virtual host
 * (moved here from tests/integration/rmq-agent-users.test.ts: it calls vipctl's own module).
 * The broker user is global: its name carries the pid, and it is deleted afterwards.
 */
const management = new RabbitMqManagement(MANAGEMENT);
const freshVhost = vhostFixture({
  prepare: (vhost) => ensureVolttronBroker({ url: AMQP_URL, vhost, management: MANAGEMENT }),
  remove: (vhost) => management.deleteVhost(vhost),
});
const INSTANCE = `au${process.pid}`;
const userOf = (identity: string) => `${INSTANCE}.${identity}`;

describe('agent broker users on the broker', () => {
  it('a new user may not publish pubsub until the platform sets its topic permission (fail closed); VIP messages pass', async () => {
    // a vhost no platform serves: nothing will sync this user
    const idle = await freshVhost('agent-users-idle');
    onTestFinished(() => idle.dispose());
    const identity = `pending${process.pid}`;
    onTestFinished(() => management.deleteUser(userOf(identity)));
    const home = await mkdtemp(join(tmpdir(), 'vipctl-home-')); // only its keystores/<identity>/rmq.json is written
    onTestFinished(() => rm(home, { recursive: true, force: true }));
    await createAgentBrokerUser(
      { bus: 'rmq', url: AMQP_URL, vhost: idle.vhost, instanceName: INSTANCE, management: MANAGEMENT },
      home,
      identity,
    );
    expect(await management.getTopicPermissions(idle.vhost, userOf(identity))).toEqual([
      { exchange: 'volttron', write: '^(?!__pubsub__\\.)', read: '.*' },
    ]);
    const file = await readAgentRmqFile(home, identity);
    const conn = await amqp.connect(`${file!.url}/${encodeURIComponent(idle.vhost)}`);
    onTestFinished(() => conn.close().catch(() => undefined));
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    await new Promise<void>((resolve, reject) =>
      ch.publish('volttron', `${INSTANCE}.someone`, Buffer.from('[]'), {}, (err) => (err ? reject(err) : resolve())),
    );
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    ch.publish('volttron', `__pubsub__.${INSTANCE}.t.#`, Buffer.from('{}'));
    expect((await closed).message).toMatch(/ACCESS_REFUSED/);
  });
});
