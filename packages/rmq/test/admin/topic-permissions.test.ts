import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vip/protocol';
import { publishRoutingKey } from '../../src/pubsub/pubsub-mapping.js';
import {
  escapePcre,
  PCRE_UTF8,
  plainTopicKeyPattern,
  protectedTopicPermissions,
  regexTopicKeyPatterns,
  type ProtectedTopicEntry,
} from '../../src/admin/topic-permissions.js';

const INST = 'v1';
const ENTRIES: ProtectedTopicEntry[] = [
  { topic: 'foo', capabilities: ['can_foo'] },
  { topic: '/bar\\/.*/', capabilities: 'can_bar' },
  { topic: 'open', capabilities: [] },
];

/** The pattern as JavaScript runs it (these PCRE patterns mean the same there, once the UTF-8 switch is off: no \x{...} in them). */
function js(write: string): RegExp {
  expect(write.startsWith(PCRE_UTF8)).toBe(true);
  return new RegExp(write.slice(PCRE_UTF8.length));
}

/** Whether the broker lets `write` publish `topic`. */
function writable(write: string | undefined, topic: string): boolean {
  return write === undefined || js(write).test(publishRoutingKey(INST, topic));
}

describe('protectedTopicPermissions (write regex of one broker user)', () => {
  it('needs no topic permission when the user lacks nothing', () => {
    expect(protectedTopicPermissions([], [], INST)).toBeUndefined();
    expect(protectedTopicPermissions(ENTRIES, ['can_foo', 'can_bar'], INST)).toBeUndefined();
  });

  it('refuses exactly the protected keys the user lacks, read stays .*', () => {
    const p = protectedTopicPermissions(ENTRIES, ['can_bar'], INST);
    expect(p).toEqual({ exchange: 'volttron', write: '(*UTF8)^(?!__pubsub__\\.[^.]+\\.foo)', read: '.*' });
    const w = p?.write;
    expect(writable(w, 'foo')).toBe(false);
    expect(writable(w, 'foo/1')).toBe(false);
    expect(writable(w, 'foobar')).toBe(false); // string prefix, as the router
    expect(writable(w, 'fo')).toBe(true);
    expect(writable(w, 'bar/x')).toBe(true);
    expect(writable(w, 'open/x')).toBe(true); // no capabilities required
  });

  it('translates /regex/ topics to anchored key patterns', () => {
    const w = protectedTopicPermissions(ENTRIES, ['can_foo'], INST)?.write;
    // the end binds to the last top-level alternative, before an optional final newline: VOLTTRON's '^' + regex + '$'
    expect(w).toBe('(*UTF8)^(?!__pubsub__\\.[^.]+\\.(?:bar\\..*\\n?(?:\\.#|(?<!\\.#))$))');
    expect(writable(w, 'bar/x')).toBe(false);
    expect(writable(w, 'bar/x/y')).toBe(false);
    expect(writable(w, 'bar')).toBe(true);
    expect(writable(w, 'xbar/x')).toBe(true);
    expect(writable(w, 'foo/1')).toBe(true);
    expect(js(w!).test('__pubsub__.v1.bar.x')).toBe(false); // a raw key without the # word
    expect(js(w!).test('__pubsub__.v1.bar.#.#')).toBe(false); // topic bar/# to a subscriber
  });

  it("keeps VIP messages writable; refuses a protected topic under any instance's key (all_platforms subscribers bind them all)", () => {
    const w = protectedTopicPermissions(ENTRIES, [], INST)!.write;
    for (const key of ['v1.platform.auth', 'v1.router', '__pubsub__.v2.open.#', 'v1.foo']) expect(js(w).test(key)).toBe(true);
    for (const key of ['__pubsub__.v1.foo.#', '__pubsub__.v2.foo.#', '__pubsub__.linked.foo.x.#']) expect(js(w).test(key)).toBe(false);
  });

  it('protects the / spelling of a plain topic with a dot (keys cannot tell them apart)', () => {
    const w = protectedTopicPermissions([{ topic: 'a.b', capabilities: 'c' }], [], INST)?.write;
    expect(writable(w, 'a.b')).toBe(false);
    expect(writable(w, 'a/b/c')).toBe(false);
    expect(writable(w, 'a/c')).toBe(true);
  });

  it('refuses an entry the user lacks even when an earlier one it has decides on the router (first match)', () => {
    const w = protectedTopicPermissions(
      [
        { topic: 'dev', capabilities: 'a' },
        { topic: 'devices', capabilities: 'b' },
      ],
      ['a'],
      INST,
    )?.write;
    expect(writable(w, 'devices/x')).toBe(false); // the router asks only for 'a' here
    expect(writable(w, 'dev/x')).toBe(true);
  });

  it('a repeated plain topic keeps its last capabilities, as ProtectedTopics', () => {
    const e = [
      { topic: 't', capabilities: 'a' },
      { topic: 't', capabilities: 'b' },
    ];
    expect(protectedTopicPermissions(e, ['b'], INST)).toBeUndefined();
    expect(protectedTopicPermissions(e, ['a'], INST)).toBeDefined();
  });

  it('escapes regex metacharacters and RabbitMQ variables in plain topics and the instance', () => {
    expect(escapePcre('a.b*{username}')).toBe('a\\.b\\*\\x7Busername\\}');
    const w = protectedTopicPermissions([{ topic: 'x+{vhost}', capabilities: 'c' }], [], INST)!.write;
    expect(w).not.toContain('{vhost}');
    expect(js(w).test(publishRoutingKey(INST, 'x+{vhost}/y'))).toBe(false);
    expect(js(w).test(publishRoutingKey(INST, 'xx{vhost}/y'))).toBe(true);
    const key = plainTopicKeyPattern('i.1', 'x');
    expect(new RegExp(`^${key}`).test('__pubsub__.i.1.x')).toBe(true);
    expect(new RegExp(`^${key}`).test('__pubsub__.ix1.x')).toBe(false);
  });

  it("a top-level | as VOLTTRON reads '^' + regex + '$': /a|b/ refuses every topic starting with a, and b (never less than the router)", () => {
    const w = protectedTopicPermissions([{ topic: '/a|b/', capabilities: 'c' }], [], INST)?.write;
    for (const topic of ['a', 'a/x', 'abc', 'b', 'b\n']) expect(writable(w, topic), topic).toBe(false);
    for (const topic of ['xb', 'bc', 'b/x', 'x/a']) expect(writable(w, topic), topic).toBe(true);
    expect(writable(protectedTopicPermissions([{ topic: '/bar\\/.*/', capabilities: 'c' }], [], INST)?.write, 'bar/x\n')).toBe(false);
  });

  it('an invalid /regex/ is a ConfigError', () => {
    expect(() => protectedTopicPermissions([{ topic: '/a(/', capabilities: 'c' }], [], INST)).toThrow(ConfigError);
    expect(() => protectedTopicPermissions([{ topic: '/a)|(b/', capabilities: 'c' }], [], INST)).toThrow(ConfigError); // Python refuses it too
  });
});

describe('regexTopicKeyPatterns (JavaScript regex over topics -> PCRE over routing keys)', () => {
  const refuses = (source: string, topic: string) =>
    regexTopicKeyPatterns(INST, source).some((p) => new RegExp(`^${p}`).test(publishRoutingKey(INST, topic)));

  it.each([
    ['bar\\/.*', 'bar/x', true],
    ['bar/[^/]+', 'bar/x', true],
    ['bar/[^/]+', 'bar/x/y', true], // a negated class keeps its `/`: keys have none, so it also crosses segments (refuses more)
    ['a/[^.]+', 'a/b', true],
    ['a/[^.]', 'a/b/c', false],
    ['a[/]b', 'a/b', true], // a class matching `/` also matches the key's `.`
    ['^dev$', 'dev', true], // anchors dropped: R is anchored anyway
    ['dev', 'devx', false],
    ['.*', '', true], // the empty topic's key __pubsub__.v1.#
    ['x?', '', true],
    ['x', '', false],
    ['caf\\u00e9', 'cafx', false],
  ])('/%s/ on %j refuses: %s', (source, topic, expected) => {
    expect(refuses(source, topic)).toBe(expected);
  });

  it('writes \\uXXXX as PCRE \\x{XXXX} and defuses {username} / {vhost} / {client_id}', () => {
    expect(regexTopicKeyPatterns(INST, 'caf\\u00e9')[0]).toContain('caf\\x{00e9}');
    for (const v of ['{username}', '{vhost}', '{client_id}', '\\{username}']) {
      const p = regexTopicKeyPatterns(INST, `a${v}`)[0]!;
      expect(p).not.toMatch(/\{(username|vhost|client_id)\}/);
    }
    expect(regexTopicKeyPatterns(INST, 'a{2}')[0]).toContain('a{2}');
  });

  it('JavaScript-only classes: [] matches nothing, [^] anything', () => {
    expect(regexTopicKeyPatterns(INST, 'a[]')[0]).toContain('a(?!)');
    expect(regexTopicKeyPatterns(INST, 'a[^]')[0]).toContain('a[\\s\\S]');
  });
});
