import {
  capabilityRefusal,
  ConfigError,
  isRegexText,
  normaliseCapabilities,
  protectedTopicRegex,
  type CapabilitiesInput,
} from '@vip/protocol';
import { VOLTTRON_EXCHANGE } from '../transport/amqp-mapping.js';
import { PUBSUB_PREFIX } from '../pubsub/pubsub-mapping.js';

/** One write-protect entry of `protected_topics.json` as plain data (no @vip/pubsub here). */
export interface ProtectedTopicEntry {
  /** A plain topic (exact, then string prefix) or `/regex/` (VOLTTRON's `^regex$` with `re.match`, JavaScript syntax). */
  readonly topic: string;
  readonly capabilities: string | readonly string[];
}

/** A RabbitMQ topic permission (management API `topic-permissions`). */
export interface TopicPermissions {
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/**
 * The RabbitMQ topic permission that enforces `entries` on broker pubsub for one broker user with
 * `capabilities` (any of VOLTTRON's forms: a list of names will do), or undefined when that user may publish on every topic (no
 * topic permission needed). `write` is `(*UTF8)` then one anchored negative lookahead over the routing keys
 * (`__pubsub__.<any instance>.<topic with / as .>[.#]`) of every entry the user lacks a capability
 * for; everything else (VIP messages `<instance>.<peer>`, unprotected topics) stays writable. Every
 * instance word: an agent naming another platform in the key (as a federation link or the proxy's
 * relay of a linked platform would) reaches this platform's all_platforms subscribers all the same.
 *
 * Where the broker cannot see what the router sees, it refuses more, never less:
 * - it matches routing keys, where `/` and `.` are the same separator: protecting `a.b` also
 *   protects `a/b`, and `a/b` protects `a.b`;
 * - an entry the user lacks refuses its topics even when an earlier entry the user has would
 *   decide them on the router (ProtectedTopics takes the first match);
 * - a `/regex/` is translated (see `regexTopicKeyPatterns`), approximating upwards.
 * An invalid `/regex/` throws ConfigError (ProtectedTopics refuses the same file).
 */
export function protectedTopicPermissions(
  entries: readonly ProtectedTopicEntry[],
  capabilities: CapabilitiesInput,
  /** The platform's instance; the patterns cover every instance word (see above). */
  _instance: string,
): TopicPermissions | undefined {
  const held = normaliseCapabilities(capabilities);
  const plain = new Map<string, readonly string[]>(); // ProtectedTopics: a repeated plain topic keeps its last capabilities
  const regexes: Array<{ source: string; caps: readonly string[] }> = [];
  for (const e of entries) {
    const caps = typeof e.capabilities === 'string' ? [e.capabilities] : e.capabilities;
    if (isRegexTopic(e.topic)) {
      const source = e.topic.slice(1, -1);
      try {
        protectedTopicRegex(e.topic);
      } catch (err) {
        throw new ConfigError(`protected topic ${JSON.stringify(e.topic)} is not a valid regular expression`, { cause: err });
      }
      regexes.push({ source, caps });
    } else plain.set(e.topic, caps);
  }
  const lacks = (caps: readonly string[]) => capabilityRefusal(held, caps) !== undefined;
  // every instance word, not only `instance`: all_platforms subscribers bind `__pubsub__.*.<prefix>`,
  // so a key naming another platform (as federation and the proxy's relay write them) would reach
  // them with this platform's protected topics unchecked. Relays do not log in as agent users.
  const refused: string[] = [];
  for (const [topic, caps] of plain) if (lacks(caps)) refused.push(plainTopicKeyPattern(ANY_INSTANCE, topic));
  for (const { source, caps } of regexes) if (lacks(caps)) refused.push(...regexTopicKeyPatterns(ANY_INSTANCE, source));
  if (refused.length === 0) return undefined;
  return { exchange: VOLTTRON_EXCHANGE, write: `${PCRE_UTF8}^(?!${[...new Set(refused)].join('|')})`, read: '.*' };
}

/**
 * PCRE's start-of-pattern switch to UTF-8 mode: RabbitMQ compiles topic permissions without the
 * `unicode` option, so without it `.` and classes match single bytes of a UTF-8 routing key
 * (`a.` would not match `aé`, `\x{e9}` not `é`), which would let non-ASCII topics through.
 */
export const PCRE_UTF8 = '(*UTF8)';

/** `/.../`, as ProtectedTopics reads it (@vip/protocol `isRegexText`). */
export function isRegexTopic(topic: string): boolean {
  return isRegexText(topic);
}

/** Keys of plain topic `topic` and every topic starting with it (string prefix, as the router). */
export function plainTopicKeyPattern(instance: string, topic: string): string {
  return `${keyPrefix(instance)}${escapePcre(topic.split('/').join('.'))}`;
}

/**
 * Keys of the topics protected topic `/source/` protects (VOLTTRON's `'^' + source + '$'` with
 * `re.match`, see @vip/protocol `protectedTopicRegex`): `__pubsub__\.<inst>\.(?:R\n?(?:\.#|(?<!\.#))$)`.
 * The end binds to R's last top-level alternative only, as Python's `$` does: `/a|b/` refuses
 * every key of a topic starting with `a`, and `b`'s. `\n?`: Python's `$` matches before a final
 * newline. R sees the key without its trailing `.#` word (a raw publisher may leave the word out,
 * and subscribers read the same topic either way). Plus the empty topic's key `__pubsub__.<inst>.#`
 * when `/source/` protects the empty topic. Translation of R, always towards matching more keys:
 * - `/` and `\/` outside a class become `\.`; a class matching `/` or `.` (asked of JavaScript
 *   itself) that does not match `.` becomes `(?:[class]|\.)`;
 * - `^` and `$` outside a class become nothing (R starts where the key prefix ends; without its
 *   anchors an alternative only matches more);
 * - `\uXXXX` becomes PCRE `\x{XXXX}`; `{` before `username}`, `vhost}` or `client_id}` becomes
 *   `\x7B`, so RabbitMQ's expansion of those variables in topic permissions cannot fire.
 * Syntax PCRE lacks (variable-length lookbehind) makes the broker refuse the pattern.
 * Lookarounds and backreferences inside R see keys, not topics: inexact there.
 */
export function regexTopicKeyPatterns(instance: string, source: string): string[] {
  // R must match the key without its `.#` word: `(?<!\.#)` stops R's `.*` from eating it
  const out = [`${keyPrefix(instance)}(?:${translateRegex(source)}\\n?(?:\\.#|(?<!\\.#))$)`];
  if (protectedTopicRegex(`/${source}/`).test('')) out.push(`${keyPrefix(instance)}#$`);
  return out;
}

/** The instance argument of the key patterns that stands for every instance word (no instance is named `*`: a routing-key wildcard). */
const ANY_INSTANCE = '*';

function keyPrefix(instance: string): string {
  const word = instance === ANY_INSTANCE ? '[^.]+' : escapePcre(instance);
  return `${escapePcre(PUBSUB_PREFIX)}\\.${word}\\.`;
}

const EXPANDED = ['username}', 'vhost}', 'client_id}'];

/** Escape for PCRE, with `{` as `\x7B` so no `{username}`-style variable can appear. */
export function escapePcre(s: string): string {
  return s.replace(/[.*+?^$()|[\]\\/-]|[{}]/g, (c) => (c === '{' ? '\\x7B' : c === '}' ? '\\}' : `\\${c}`));
}

function translateRegex(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      const esc = escapeAt(source, i);
      out += esc.pcre === '\\/' ? '\\.' : esc.pcre;
      i += esc.length;
    } else if (c === '[') {
      const end = classEnd(source, i);
      const body = source.slice(i, end);
      out += translateClass(body);
      i = end;
    } else if (c === '/') {
      out += '\\.';
      i += 1;
    } else if (c === '^' || c === '$') {
      i += 1;
    } else if (c === '{' && EXPANDED.some((w) => source.startsWith(w, i + 1))) {
      out += '\\x7B';
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** The escape sequence at `i` (a backslash) in PCRE form, and its length in the source. */
function escapeAt(source: string, i: number): { pcre: string; length: number } {
  const next = source[i + 1];
  if (next === undefined) return { pcre: '\\\\', length: 1 }; // JavaScript rejects a trailing backslash before we get here
  const u = /^u([0-9a-fA-F]{4})/.exec(source.slice(i + 1));
  if (u) return { pcre: `\\x{${u[1] as string}}`, length: 6 };
  if (next === '{') return { pcre: '\\x7B', length: 2 };
  return { pcre: `\\${next}`, length: 2 };
}

/** Index just after the class that opens at `start` (in JavaScript a `]` right after `[` or `[^` closes it). */
function classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i += 1;
  while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, source.length);
}

function translateClass(cls: string): string {
  if (cls === '[]') return '(?!)'; // JavaScript: matches nothing; PCRE would read `]` as a member
  if (cls === '[^]') return '[\\s\\S]';
  let body = '';
  for (let i = 0; i < cls.length; ) {
    if (cls[i] === '\\') {
      const esc = escapeAt(cls, i);
      body += esc.pcre;
      i += esc.length;
    } else {
      body += cls[i] === '{' ? '\\x7B' : cls[i];
      i += 1;
    }
  }
  const js = new RegExp(cls);
  const needsDot = (js.test('/') || js.test('.')) && !js.test('.');
  return needsDot ? `(?:${body}|\\.)` : body;
}
