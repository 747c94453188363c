import { describe, expect, it } from 'vitest';
import { textFrame, type Frame } from '@vip/protocol';
import { linkUserOf, PlatformLinkTable, type OutgoingPlatformLink } from '../src/index.js';
import { PendingExternalCalls, requestIdsOf, responseIdsOf } from '../src/multiplatform/pending-external-calls.js';

function fakeLink(accept = true): OutgoingPlatformLink & { sent: Frame[][] } {
  const sent: Frame[][] = [];
  return {
    sent,
    send: (_u, _i, subsystem, args) => (accept ? (sent.push([subsystem, ...args]), true) : false),
    close: () => Promise.resolve(),
  };
}

describe('PlatformLinkTable', () => {
  it('proves links by their user, tracks state with since and counters, tells listeners of up and down', () => {
    let now = 1000;
    const table = new PlatformLinkTable({ instanceName: 'here', now: () => now });
    const user = table.addPlatform('there', { serverKey: 'K', vipAddress: 'tcp://127.0.0.1:1' });
    expect(user).toBe(linkUserOf('there'));
    expect(table.has(user)).toBe(true);
    expect(table.has('there')).toBe(false);
    expect(table.instanceWithKey('K')).toBe('there');
    const link = fakeLink();
    table.setLink('there', link);
    const events: string[] = [];
    table.onConnected((i) => events.push(`up ${i}`));
    table.onDisconnected((i) => events.push(`down ${i}`));
    // not up yet: nothing is sent, counted refused
    expect(table.send('there', textFrame(''), textFrame(''), textFrame('pubsub'), [])).toBe(false);
    now = 2000;
    table.linkState('there', 'CONNECTED');
    expect(table.send('there', textFrame(''), textFrame(''), textFrame('pubsub'), [textFrame('x')])).toBe(true);
    now = 3000;
    table.linkState('there', 'DISCONNECTED');
    table.linkState('there', 'CONNECTION_DELAY'); // no second "down"
    table.linkState('there', 'CONNECTED');
    expect(events).toEqual(['up there', 'down there', 'up there']);
    const [status] = table.status();
    expect(status).toMatchObject({ instance: 'there', state: 'CONNECTED', handshake: 'socket' });
    expect(status?.counters).toMatchObject({ connects: 2, disconnects: 1, sent: 1, refused: 1 });
    table.welcomed('there');
    expect(table.status()[0]?.handshake).toBe('welcome');
    expect(table.send('nowhere', textFrame(''), textFrame(''), textFrame('pubsub'), [])).toBe(false);
  });

  it("hands what arrives on a link to its subsystem's handler; an unknown platform or subsystem is ignored", () => {
    const table = new PlatformLinkTable({ instanceName: 'here' });
    table.addPlatform('there');
    const seen: string[] = [];
    table.onLinkMessage('routing_table', (i, m) => seen.push(`${i}:${m.args.map(String).join(',')}`));
    const message = (subsystem: string) => ({
      peer: textFrame(''),
      user: textFrame(''),
      id: textFrame(''),
      subsystem: textFrame(subsystem),
      args: [textFrame('hello'), textFrame('welcome')],
    });
    table.arrived('there', message('routing_table'));
    table.arrived('there', message('other'));
    table.arrived('nowhere', message('routing_table'));
    expect(seen).toEqual(['there:hello,welcome']);
  });
});

describe('PendingExternalCalls', () => {
  it('remembers calls by platform and id, bounded (oldest forgotten, counted)', () => {
    const calls = new PendingExternalCalls(2);
    const call = { caller: textFrame('c'), vipId: textFrame('m'), toPeer: 'p' };
    calls.add('B', 'a', call);
    calls.add('B', 1, call);
    calls.add('C', 'a', call);
    expect(calls.size).toBe(2);
    expect(calls.evicted).toBe(1);
    expect(calls.take('B', ['a'])).toEqual([]);
    expect(calls.take('B', [1]).map((c) => c.id)).toEqual([1]);
    expect(calls.takePlatform('C').map((c) => c.platform)).toEqual(['C']);
    expect(calls.size).toBe(0);
  });

  it('finds request and response ids in JSON-RPC texts, batches included, garbage skipped', () => {
    const texts = [
      '{"jsonrpc": "2.0", "id": "x", "method": "m"}',
      '{"jsonrpc": "2.0", "method": "n"}',
      '[{"id": 2, "method": "m"}, {"id": "r", "result": 1}]',
      'garbage',
      '5',
    ];
    expect(requestIdsOf(texts)).toEqual(['x', 2]);
    expect(responseIdsOf(texts)).toEqual(['r']);
  });
});
