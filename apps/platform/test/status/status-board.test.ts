import { describe, expect, it } from 'vitest';
import { EMPTY_FRAME, textFrame, type VipMessage } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import { Router } from '@vip/router';
import { MemoryTransport, waitFor } from '@vip/testing';
import { StatusBoard } from '../../src/status/status-board.js';

const message = (subsystem: string, args: string[], id = 'm'): VipMessage => ({
  peer: EMPTY_FRAME,
  user: EMPTY_FRAME,
  id: textFrame(id),
  subsystem: textFrame(subsystem),
  args: args.map(textFrame),
});

describe('StatusBoard over a router', () => {
  it('peers with the proven user and when they joined, topics with counts, rates from the counters, links from the provider', async () => {
    let clock = 1_000_000;
    const board = new StatusBoard({
      instance: 'site1',
      bus: 'zmq',
      version: '9.9.9',
      now: () => clock,
      sampleMs: 60_000,
      historyBytes: 1024,
      linkedPlatforms: () => [{ instance: 'site2', address: 'tcp://127.0.0.1:1', state: 'connecting' }],
    });
    const transport = new MemoryTransport();
    const router = new Router({ transport, extensions: [new PubSubService(), board.extension] });
    await router.start();
    board.attach(
      router,
      () => ({ received: 0 }),
      (identity) => (identity === 'pub' ? 'pub-user' : identity === 'anon' ? '' : undefined),
    );
    try {
      const pub = transport.connection('pub');
      const sub = transport.connection('sub');
      let got = 0;
      sub.onMessage((m) => void (m.subsystem.toString() === 'pubsub' && m.args[0]?.toString() === 'publish' && got++));
      clock += 1000;
      await pub.open(); // the memory bus tells the router at once: the peer joins now
      await waitFor(() => router.peers.size === 1, { what: 'pub known' });
      clock += 1000;
      await sub.open();
      await waitFor(() => router.peers.size === 2, { what: 'both peers known' });
      await sub.send(message('pubsub', ['subscribe', '{"prefix": "devices/", "bus": "", "all_platforms": false}']));
      await pub.send(message('hello', ['hello']));
      for (let i = 0; i < 10; i++)
        await pub.send(message('pubsub', ['publish', 'devices/ahu1', '{"bus": "", "headers": {}, "message": 1}'], `p${i}`));
      await waitFor(() => got === 10, { what: 'ten deliveries' });
      clock += 2000; // two seconds after attach: the rates are per second over them
      board.sample();

      const s = board.snapshot();
      expect(s).toMatchObject({
        instance: 'site1',
        bus: 'zmq',
        version: '9.9.9',
        startedAt: 1_000_000,
        now: 1_004_000,
        peersOmitted: 0,
        topicsOmitted: 0,
      });
      expect(s.peers).toEqual([
        { identity: 'pub', user: 'pub-user', bus: 'zmq', connectedSince: 1_001_000, queued: 0, queuedBytes: 0, dropped: 0 },
        { identity: 'sub', user: 'sub', bus: 'zmq', connectedSince: 1_002_000, queued: 0, queuedBytes: 0, dropped: 0 },
      ]);
      expect(s.topics).toEqual([{ bus: '', prefix: 'devices/', subscribers: 1 }]);
      expect(s.totals).toMatchObject({ published: 10, delivered: 10, dropped: 0 });
      // 12 messages (subscribe, hello, 10 publishes) and 10 deliveries over 4 s since attach
      expect(s.rates).toEqual([{ t: 1_004_000, messages: 3, deliveries: 2.5, drops: 0 }]);
      expect(s.linkedPlatforms).toEqual([{ instance: 'site2', address: 'tcp://127.0.0.1:1', state: 'connecting' }]);
      expect(s.tracker).toMatchObject({ enabled: false, errors: 0, unroutable: 0 });
      expect(board.figures().links).toEqual({ connected: 2, joined: 2, left: 0 });

      // a subscriber whose queue is full: its drops are its own row's, and the drop rate moves
      transport.setCongested('sub', true);
      for (let i = 0; i < 3; i++)
        await pub.send(message('pubsub', ['publish', 'devices/ahu1', '{"bus": "", "headers": {}, "message": 2}'], `q${i}`));
      await waitFor(() => board.snapshot().totals.dropped === 3, { what: 'three drops counted' });
      clock += 1000;
      board.sample();
      const congested = board.snapshot({ rates: 1 });
      expect(congested.peers.find((p) => p.identity === 'sub')?.dropped).toBe(3);
      expect(congested.peers.find((p) => p.identity === 'pub')?.dropped).toBe(0);
      expect(congested.rates).toEqual([{ t: 1_005_000, messages: 3, deliveries: 0, drops: 3 }]);

      await pub.close();
      await waitFor(() => router.peers.size === 1, { what: 'pub gone' });
      expect(board.snapshot().peers.map((p) => p.identity)).toEqual(['sub']);
      expect(board.figures().links).toEqual({ connected: 1, joined: 2, left: 1 });
    } finally {
      board.close();
      await router.stop();
    }
  });
});
