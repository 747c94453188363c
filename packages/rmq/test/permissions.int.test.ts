import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { RmqConnection } from '../src/index.js';
import { RmqPubSub, type PubSubDelivery } from '../src/pubsub.js';
import { agentPermissions } from '../src/admin.js';
import { FAST_RECONNECT, freshVhost, Inbox, management, type TestVhost } from './broker-fixture.js';
import { startScenarioRouter, vip } from './scenario.js';

/** One broker user per agent with VOLTTRON's permission regexes (docs/protocol.md 7.1), on the real broker. */
let vh: TestVhost;
const user = `inst.perm${process.pid}`;
const identity = user.slice('inst.'.length);
const password = randomBytes(9).toString('base64url');
beforeAll(async () => {
  vh = await freshVhost('perms');
  await management.ensureUser(user, password);
  await management.setPermissions(vh.vhost, user, agentPermissions('inst', identity));
});
afterAll(async () => {
  await management.deleteUser(user);
  await vh?.dispose();
});

// the scenario router logs in as guest (a shared login), so nothing from it is proven: this agent must not require proofs
const asAgentUser = {
  url: `amqp://${encodeURIComponent(user)}:${password}@127.0.0.1:5672`,
  reconnect: FAST_RECONNECT,
  instanceName: 'inst',
  senderProof: 'optional' as const,
};

describe('an agent with only its own VOLTTRON permissions', () => {
  it('declares its queue, talks to the router, and subscribes through its pubsub queues', async () => {
    await startScenarioRouter(vh.vhost);
    const c = new RmqConnection({ ...asAgentUser, vhost: vh.vhost, identity });
    onTestFinished(() => c.close());
    const inbox = new Inbox<{ id: string; arg: string }>();
    c.onMessage((m) => inbox.push({ id: m.id.toString(), arg: m.args[0]?.toString() ?? '' }));
    await c.open();
    await c.send(vip('', 'ping', [Buffer.from('ping')], 'perm-ping'));
    expect(await inbox.next((m) => m.id === 'perm-ping', 5_000, 'pong')).toMatchObject({ arg: 'pong' });

    const ps = new RmqPubSub({ ...asAgentUser, vhost: vh.vhost, identity });
    onTestFinished(() => ps.close());
    await ps.open();
    const got = new Inbox<PubSubDelivery>();
    await ps.subscribe('perm', got.push, { persistentQueue: 'kept' });
    await ps.publish({ topic: 'perm/x', message: 1 });
    expect((await got.next(undefined, 5_000, 'own publish')).message).toBe(1);
    await ps.unsubscribe();
  });

  it('may not take another identity: RmqSetupError naming the permission', async () => {
    const c = new RmqConnection({ ...asAgentUser, vhost: vh.vhost, identity: 'someone.else' });
    onTestFinished(() => c.close());
    await expect(c.open()).rejects.toMatchObject({ name: 'RmqSetupError', missing: 'permission' });
  });
});
