import { describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '@vip/protocol';
import { renderTop } from '../src/commands/top-command.js';

const NOW = 1_800_000_000_000;
const snapshot: StatusSnapshot = {
  instance: 'site1',
  bus: 'zmq',
  version: '0.1.0',
  startedAt: NOW - 3_725_000,
  now: NOW,
  totals: { received: 120, forwarded: 10, published: 50, delivered: 100, dropped: 3 },
  peers: [
    { identity: 'thermostat', user: 'thermostat', bus: 'zmq', connectedSince: NOW - 65_000, queued: 2, queuedBytes: 300, dropped: 3 },
  ],
  peersOmitted: 0,
  topics: [{ bus: 'pubsub', prefix: 'devices/', subscribers: 2 }],
  topicsOmitted: 4,
  rates: [0, 5, 10, 20].map((m, i) => ({ t: NOW - (3 - i) * 1000, messages: m, deliveries: m * 2, drops: 0 })),
  sampleSeconds: 1,
  tracker: { enabled: false, incoming: {}, outgoing: {}, errors: 0, unroutable: 0 },
  linkedPlatforms: [],
};

describe('vipctl top: renderTop', () => {
  it('shows the header, the latest rates with a sparkline, peers, topics (with how many more), Tracker and links', () => {
    const text = renderTop(snapshot, 120);
    const lines = text.split('\n');
    expect(lines[0]).toBe('vip site1  zmq bus  version 0.1.0  up 1h02m  peers 1  topics 5');
    expect(lines).toContain('messages/s       20.0  ▁▂▄█');
    expect(lines).toContain('drops/s           0.0  ▁▁▁▁');
    expect(text).toMatch(/^thermostat\s+thermostat\s+zmq\s+1m05s\s+2\s+300\s+3$/m);
    expect(text).toMatch(/^devices\/\s+pubsub\s+2$/m);
    expect(text).toContain('  … and 4 more');
    expect(text).toContain('tracker: off (vipctl stats enable)');
    expect(text).toContain('linked platforms: none');
  });

  it('cuts lines to the terminal width', () => {
    for (const line of renderTop(snapshot, 40).split('\n')) expect(line.length).toBeLessThanOrEqual(40);
  });
});
