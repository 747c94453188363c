import { describe, expect, it } from 'vitest';
import { LocalSubscriptions, type PubSubCallback } from '../../src/pubsub/local-subscriptions.js';

const cb = (): PubSubCallback => () => {};

describe('LocalSubscriptions', () => {
  it('matches every callback of every matching prefix, per platform, on the delivered bus only', () => {
    const s = new LocalSubscriptions();
    const [a, b, c] = [cb(), cb(), cb()];
    s.add('internal', '', 't', a);
    s.add('internal', '', 't/x', a);
    s.add('internal', '', 't/x', b);
    s.add('all', '', 't', c);
    s.add('internal', 'other', 't', c);
    expect(s.match('', 't/x/1')).toEqual([a, a, b, c]);
    expect(s.match('other', 't/x/1')).toEqual([c]);
    expect(s.match('', 'u')).toEqual([]);
  });

  it('removes a callback or a whole prefix and reports prefixes left empty', () => {
    const s = new LocalSubscriptions();
    const [a, b] = [cb(), cb()];
    s.add('internal', '', 'p', a);
    s.add('internal', '', 'p', b);
    s.add('internal', '', 'q', a);
    expect(s.remove('internal', '', ['p'], a)).toEqual([]);
    expect(s.remove('internal', '', null, b)).toEqual(['p']);
    expect(s.snapshot()).toEqual({ internal: { '': ['q'] } });
    expect(s.remove('internal', '', null, undefined)).toEqual(['q']);
    expect(s.empty).toBe(true);
  });

  it('keeps every bus in the synchronize snapshot (VOLTTRON keeps only the last, quirk 12.11)', () => {
    const s = new LocalSubscriptions();
    s.add('internal', 'b1', 'x', cb());
    s.add('internal', 'b2', 'y', cb());
    s.add('all', '', 'z', cb());
    expect(s.snapshot()).toEqual({ internal: { b1: ['x'], b2: ['y'] }, all: { '': ['z'] } });
  });
});
