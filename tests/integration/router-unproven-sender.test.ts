import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_FRAME, textFrame, VIP_SIGNATURE, type Frame, type VipMessage } from '@vip/protocol';
import { ProtectedTopics, PubSubService } from '@vip/pubsub';
import { Router } from '@vip/router';
import { AsyncQueue, MemoryTransport } from '@vip/testing';

/**
 * A bus that requires proofs (RabbitMQ with per-agent broker users) hands the router an empty user
 * for a sender that gave none (RouterTransport.requiresProof). Such a sender has no rights, not even
 * those of the identity it claims: before issue 14 the router took it for that identity, so a
 * message claiming a capable agent without user_id published on its protected topics.
 */
const f = (s: string): Frame => textFrame(s);

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('a sender the bus could not prove', () => {
  it('gets no capabilities of the identity it claims: a protected-topic publish is refused', async () => {
    const topics = ProtectedTopics.parse({ 'write-protect': [{ topic: 'guarded', capabilities: ['can_publish'] }] });
    if (!(topics instanceof ProtectedTopics)) throw topics;
    const service = new PubSubService({
      protectedTopics: topics,
      capabilities: { capable: { can_publish: null }, 'v1.capable': { can_publish: null } },
    });
    const transport = new MemoryTransport({ requiresProof: true });
    const router = new Router({ identity: 'router', transport, extensions: [service] });
    await router.start();
    stop = () => router.stop();
    const publish = async (identity: string, userId: string, id: string): Promise<VipMessage> => {
      const conn = transport.connection(identity, { userId });
      const inbox = new AsyncQueue<VipMessage>();
      conn.onMessage((m) => inbox.push(m));
      await conn.open();
      conn.sendFrames([
        EMPTY_FRAME,
        VIP_SIGNATURE,
        EMPTY_FRAME,
        f(id),
        f('pubsub'),
        f('publish'),
        f('guarded/1'),
        f(JSON.stringify({ bus: '', headers: {}, message: 1 })),
      ]);
      const reply = await inbox.nextMatching((m) => m.id.toString() === id);
      await conn.close();
      return reply;
    };
    const proven = await publish('capable', 'v1.capable', 'p1');
    expect(proven.subsystem.toString()).toBe('pubsub');
    const claimed = await publish('capable', '', 'p2'); // the same identity, no proof
    expect(claimed.subsystem.toString()).toBe('error');
    expect(claimed.args[0]?.toString()).toBe('-32001');
  });
});
