import { PUBSUB_PREFIX } from './pubsub-mapping.js';
import type { QueueBinding } from '../admin/rabbitmq-management.js';

/**
 * What the broker's bindings of `volttron` say about pubsub subscribers (pure). Every
 * subscription queue is bound once per prefix; ours carry binding arguments that topic
 * exchanges ignore for routing but the management API lists: `x-vip-bus` (the subscription's
 * bus), `x-vip-prefix` (the prefix as given) and `x-vip-match` (`segment` | `character`).
 * Python agents bind without arguments: their queues get every bus (they do not filter).
 */
export type PrefixMatch = 'segment' | 'character';

export const BUS_ARG = 'x-vip-bus';
export const PREFIX_ARG = 'x-vip-prefix';
export const MATCH_ARG = 'x-vip-match';

function words(prefix: string): string[] {
  return prefix.split(/[/.]/);
}

/** A prefix's segments; a trailing `/` means "under it" (VOLTTRON would bind an empty word that matches nothing). */
function segments(prefix: string): string[] {
  const w = words(prefix);
  if (w.length > 1 && w[w.length - 1] === '') w.pop();
  return w;
}

/**
 * The binding key of a subscription to `prefix`. Segment matching (VOLTTRON's RMQ pubsub) binds
 * the prefix's words then `#` (a trailing `/` dropped: `ctl/` binds `ctl.#`, where VOLTTRON
 * binds `ctl..#` and matches nothing); character matching (ZMQ's `startsWith`) binds only the words
 * that are complete in the prefix (all but the last) and leaves the rest to a local filter:
 * `devices/camp` binds `devices.#`, `t` binds everything of the instance.
 */
export function pubsubBindingKey(instance: string, prefix: string, allPlatforms: boolean, match: PrefixMatch): string {
  const bound = prefix === '' ? [] : match === 'segment' ? segments(prefix) : words(prefix).slice(0, -1);
  return [PUBSUB_PREFIX, allPlatforms ? '*' : instance, ...bound, '#'].join('.');
}

export function pubsubBindingArguments(bus: string, prefix: string, match: PrefixMatch): Record<string, string> {
  return { [BUS_ARG]: bus, [PREFIX_ARG]: prefix, [MATCH_ARG]: match };
}

/** Whether a delivered `topic` (words joined by `/`) falls under `prefix`. */
export function prefixMatches(prefix: string, topic: string, match: PrefixMatch): boolean {
  if (prefix === '') return true;
  if (match === 'character') return topic.startsWith(prefix.replaceAll('.', '/'));
  const p = segments(prefix);
  const t = words(topic);
  return p.length <= t.length && p.every((w, i) => w === t[i]);
}

/** AMQP topic matching: `*` is one word, `#` zero or more. */
export function topicKeyMatches(binding: string, key: string): boolean {
  const b = binding.split('.');
  const k = key.split('.');
  const memo = new Map<number, boolean>();
  const at = (i: number, j: number): boolean => {
    const id = i * (k.length + 1) + j;
    const known = memo.get(id);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === b.length) r = j === k.length;
    else if (b[i] === '#') r = at(i + 1, j) || (j < k.length && at(i, j + 1));
    else r = j < k.length && (b[i] === '*' || b[i] === k[j]) && at(i + 1, j + 1);
    memo.set(id, r);
    return r;
  };
  return at(0, 0);
}

/** The identity owning a subscription queue `<instance>.<identity>.pubsub.<...>`; else the queue name. */
export function queueOwner(queue: string, instance: string): string {
  const head = `${instance}.`;
  const mark = queue.lastIndexOf('.pubsub.');
  return queue.startsWith(head) && mark > head.length ? queue.slice(head.length, mark) : queue;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A pubsub binding's instance word, prefix, bus and match mode (undefined when not a pubsub binding). */
function describe(b: QueueBinding): { inst: string; prefix: string; bus: string | undefined; match: PrefixMatch } | undefined {
  const w = b.routingKey.split('.');
  if (w[0] !== PUBSUB_PREFIX || w.length < 3) return undefined;
  const fromKey = w.slice(2, w[w.length - 1] === '#' ? -1 : undefined).join('/');
  return {
    inst: w[1] as string,
    prefix: text(b.arguments[PREFIX_ARG]) ?? fromKey,
    bus: text(b.arguments[BUS_ARG]),
    match: b.arguments[MATCH_ARG] === 'character' ? 'character' : 'segment',
  };
}

/**
 * Subscribers a publish of `topic` on `bus` from `instance` reaches: distinct queue owners
 * whose binding routes the key, on that bus (Python bindings: any bus), passing the character
 * filter where the subscription asked for one. As ZMQ counts: one per subscriber, however many
 * of its prefixes match.
 */
export function countSubscribers(bindings: readonly QueueBinding[], instance: string, topic: string, bus: string, key: string): number {
  const owners = new Set<string>();
  for (const b of bindings) {
    const d = describe(b);
    if (!d || (d.bus !== undefined && d.bus !== bus) || !topicKeyMatches(b.routingKey, key)) continue;
    if (d.match === 'character' && !prefixMatches(d.prefix, topic, 'character')) continue;
    owners.add(queueOwner(b.destination, instance));
  }
  return owners.size;
}

/** Memoized counts per snapshot stop growing here (a snapshot lives for one read's publishes). */
const MEMO_LIMIT = 4096;

/**
 * One read of the `volttron` bindings, with subscriber counts memoized per (bus, topic): every
 * publish of a window shares the read, and most share a topic.
 */
export class BindingTable {
  readonly bindings: readonly QueueBinding[];
  readonly #instance: string;
  readonly #counts = new Map<string, number>();

  constructor(bindings: readonly QueueBinding[], instance: string) {
    this.bindings = bindings;
    this.#instance = instance;
  }

  /** countSubscribers for a publish of `topic` on `bus` with routing key `key` (a function of the topic). */
  count(topic: string, bus: string, key: string): number {
    const id = `${bus}\u0000${topic}`;
    const known = this.#counts.get(id);
    if (known !== undefined) return known;
    const n = countSubscribers(this.bindings, this.#instance, topic, bus, key);
    if (this.#counts.size < MEMO_LIMIT) this.#counts.set(id, n);
    return n;
  }
}

export interface PubSubListQuery {
  readonly instance: string;
  readonly identity: string;
  readonly prefix: string;
  /** null = every bus. */
  readonly bus: string | null;
  readonly subscribed: boolean;
  readonly reverse: boolean;
  readonly allPlatforms: boolean;
}

/** `[bus, prefix, member]` rows as the router's `list` gives them (docs/protocol.md 3.5), one per (bus, prefix). */
export function listSubscriptions(bindings: readonly QueueBinding[], q: PubSubListQuery): Array<[string, string, boolean]> {
  const rows = new Map<string, [string, string, boolean]>();
  for (const b of bindings) {
    const d = describe(b);
    if (!d || d.inst !== (q.allPlatforms ? '*' : q.instance)) continue;
    const bus = d.bus ?? '';
    if (q.bus !== null && bus !== q.bus) continue;
    if (!(q.reverse ? q.prefix.startsWith(d.prefix) : d.prefix.startsWith(q.prefix))) continue;
    const member = queueOwner(b.destination, q.instance) === q.identity;
    const id = `${bus}\u0000${d.prefix}`;
    const row = rows.get(id);
    if (row) row[2] ||= member;
    else rows.set(id, [bus, d.prefix, member]);
  }
  return [...rows.values()].filter((r) => !q.subscribed || r[2]);
}
