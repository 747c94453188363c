import { describe, expect, it } from 'vitest';
import { ProtectedTopics } from '../src/protected-topics.js';

const parse = (raw: unknown): ProtectedTopics => {
  const t = ProtectedTopics.parse(raw);
  if (!(t instanceof ProtectedTopics)) throw t;
  return t;
};

describe('ProtectedTopics', () => {
  const topics = parse({
    'write-protect': [
      { topic: 'foo', capabilities: ['can_publish_to_foo'] },
      { topic: '/foo\\/.*/', capabilities: 'can_publish_to_regex' },
      { topic: '/bar*/', capabilities: ['can_bar'] },
    ],
  });

  it('looks up exact, then plain prefix, then anchored regex', () => {
    expect(topics.required('foo')).toEqual(['can_publish_to_foo']);
    expect(topics.required('foo/x')).toEqual(['can_publish_to_foo']); // plain prefix wins over the regex
    expect(topics.required('barrr')).toEqual(['can_bar']);
    expect(topics.required('barx')).toBeUndefined(); // anchored
    expect(topics.required('xbar')).toBeUndefined();
    expect(topics.required('other')).toBeUndefined();
  });

  it('refuses with the VOLTTRON message text and accepts with the capability', () => {
    const caps = { a: { can_publish_to_foo: null }, b: ['other'] };
    expect(topics.check('foo', 'a', caps)).toBeUndefined();
    const refused = topics.check('foo', 'b', caps);
    expect(refused?.errnum).toBe(-32001);
    expect(refused?.message).toBe(
      `to publish to topic "foo" requires capabilities ['can_publish_to_foo'], but capability list ['other'] was provided`,
    );
    expect(topics.check('unprotected', 'b', caps)).toBeUndefined();
  });

  it('refuses a user absent from the capability map (unlike VOLTTRON)', () => {
    expect(topics.check('foo', 'nobody', {})?.message).toContain('but capability list {} was provided');
  });

  it("reads /regex/ as VOLTTRON does ('^' + regex + '$' with re.match): a top-level | protects more than a whole match", () => {
    const t = parse({
      'write-protect': [
        { topic: '/a|b/', capabilities: 'c' },
        { topic: '/dev\\/[0-9]+/', capabilities: 'd' },
      ],
    });
    for (const topic of ['a', 'a/x', 'abc', 'b']) expect(t.required(topic), topic).toEqual(['c']);
    for (const topic of ['xb', 'bc', 'b/x', 'x/a']) expect(t.required(topic), topic).toBeUndefined();
    // Python's $ also matches before a final newline: a topic 'dev/1\n' reaches the subscribers of 'dev/1'
    expect(t.required('dev/1\n')).toEqual(['d']);
    expect(t.required('b\n')).toEqual(['c']);
    expect(t.required('dev/1\nx')).toBeUndefined();
    expect(t.required('dev/1x')).toBeUndefined();
  });

  it('rejects a bad file and a bad regex with an actionable error', () => {
    expect(ProtectedTopics.parse({ 'write-protect': [{ topic: 1 }] })).toMatchObject({ code: 'VIP_INVALID_PAYLOAD' });
    const bad = ProtectedTopics.parse({ 'write-protect': [{ topic: '/a(/', capabilities: 'x' }] });
    expect(bad).toMatchObject({ code: 'VIP_CONFIG' });
    expect((bad as Error).message).toContain('write-protect[0]');
    expect(ProtectedTopics.parse({ 'write-protect': [{ topic: '/a)|(b/', capabilities: 'x' }] })).toMatchObject({ code: 'VIP_CONFIG' });
  });
});
