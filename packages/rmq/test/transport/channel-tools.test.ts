import type { Channel, Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { DeferredAcks } from '../../src/transport/channel-tools.js';

/** A channel that records acks (pure logic: DeferredAcks only calls `ack`). */
function fakeChannel(): { ch: Channel; acks: Array<[number, boolean]> } {
  const acks: Array<[number, boolean]> = [];
  const ch = { ack: (m: Message, all: boolean) => acks.push([m.fields.deliveryTag, all]) } as unknown as Channel;
  return { ch, acks };
}
const msg = (tag: number) => ({ fields: { deliveryTag: tag } }) as unknown as Message;
const tick = () => new Promise<void>((r) => process.nextTick(r));

describe('DeferredAcks', () => {
  it('acks the last message with multiple once the delay passed', async () => {
    const { ch, acks } = fakeChannel();
    const a = new DeferredAcks({ threshold: 10, delayMs: 10 }, () => {});
    a.ack(ch, msg(1));
    a.ack(ch, msg(2));
    await tick();
    expect(acks).toEqual([]);
    await waitFor(() => acks.length > 0, { timeoutMs: 2_000 });
    expect(acks).toEqual([[2, true]]);
  });
  it('acks on the next tick at the threshold, or when not deferred', async () => {
    const { ch, acks } = fakeChannel();
    const a = new DeferredAcks({ threshold: 3, delayMs: 60_000 }, () => {});
    for (const t of [1, 2, 3]) a.ack(ch, msg(t));
    await tick();
    expect(acks).toEqual([[3, true]]);
    a.ack(ch, msg(4), false);
    await tick();
    expect(acks).toEqual([
      [3, true],
      [4, true],
    ]);
  });
  it('flush acks what is pending now, releases the timer and reports a failed ack', () => {
    const failed: unknown[] = [];
    const { ch, acks } = fakeChannel();
    const gone = {
      ack: () => {
        throw new Error('channel closed');
      },
    } as unknown as Channel;
    const a = new DeferredAcks({ threshold: 10, delayMs: 60_000 }, (err) => failed.push(err));
    a.ack(ch, msg(7));
    a.ack(gone, msg(1));
    a.flush();
    expect(acks).toEqual([[7, true]]);
    expect(failed).toHaveLength(1);
    a.flush();
    expect(acks).toHaveLength(1);
  });
});
