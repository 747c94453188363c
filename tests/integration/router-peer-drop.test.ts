import { afterEach, describe, expect, it, vi } from 'vitest';
import { EMPTY_FRAME, textFrame, VIP_SIGNATURE, type Frame } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import { Router } from '@vip/router';
import { MemoryTransport, waitFor } from '@vip/testing';

/**
 * A peer leaves once: however the router learns it is gone (a delivery that finds it unreachable,
 * here a pubsub delivery), every extension hears of it once. Before issue 14 the PubSubService
 * dropped an unreachable subscriber itself and then asked the router to, after the router had
 * already dropped it while resolving the delivery: its `peerDropped` ran twice.
 */
const f = (s: string): Frame => textFrame(s);
const json = (v: unknown): Frame => f(JSON.stringify(v));
const frames = (sender: string, id: string, subsystem: string, args: readonly Frame[]): Frame[] => [
  f(sender),
  EMPTY_FRAME,
  VIP_SIGNATURE,
  EMPTY_FRAME,
  f(id),
  f(subsystem),
  ...args,
];

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('peer drop', () => {
  it("an unreachable subscriber (its subscription's answer bounced): dropped once, every extension told once", async () => {
    const service = new PubSubService();
    const dropped = vi.spyOn(service, 'peerDropped');
    const transport = new MemoryTransport();
    const router = new Router({ identity: 'router', transport, extensions: [service] });
    await router.start();
    stop = () => router.stop();
    const alice = transport.connection('alice');
    await alice.open();
    // `ghost` subscribes through frames the transport reads, with no connection behind them: the
    // subscription's answer finds it unreachable
    transport.inject(frames('ghost', 's1', 'pubsub', [f('subscribe'), json({ prefix: 't', bus: '', all_platforms: false })]));
    await waitFor(() => dropped.mock.calls.length > 0, { what: 'the ghost dropped' });
    await router.poll();
    expect(router.peers.has(f('ghost'))).toBe(false);
    expect(service.index.peerCount).toBe(0);
    expect(dropped.mock.calls.map(([peer]) => peer.toString())).toEqual(['ghost']);
  });
});
