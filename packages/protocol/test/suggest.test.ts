import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from '../src/suggest.js';

describe('closestMatch (did you mean)', () => {
  it('finds a swapped, missing or extra letter; nothing for unrelated words or the word itself', () => {
    expect(editDistance('stauts', 'status')).toBe(1);
    const commands = ['status', 'peers', 'ping', 'query', 'rpc', 'stats', 'publish', 'subscribe'];
    expect(closestMatch('stauts', commands)).toBe('status');
    expect(closestMatch('publsh', commands)).toBe('publish');
    expect(closestMatch('subscriber', commands)).toBe('subscribe');
    expect(closestMatch('STATUS', ['status'])).toBeUndefined(); // the same word (case aside) needs no suggestion
    expect(closestMatch('frobnicate', commands)).toBeUndefined();
    expect(closestMatch('mesage-bus', ['message-bus', 'rmq-url'])).toBe('message-bus');
    expect(closestMatch('x', ['y'])).toBe('y'); // one edit is close for a short word
    expect(closestMatch('ab', ['xy'])).toBeUndefined();
  });
});
