import {
  capabilityRefusal,
  ConfigError,
  InvalidPayloadError,
  isRegexText,
  normaliseCapabilities,
  parseProtectedUpdate,
  protectedTopicRegex,
  UnauthorizedError,
  type CapabilityMapInput,
} from '@vip/protocol';
import { pythonRepr } from './internal/python-repr.js';

interface RegexEntry {
  readonly source: string;
  readonly regex: RegExp;
  readonly capabilities: readonly string[];
}

/**
 * Write-protected topics: plain topics (exact, then string prefix, in file order) and `/regex/`
 * topics (VOLTTRON's `'^' + regex + '$'` with `re.match`: @vip/protocol `protectedTopicRegex`),
 * looked up in the order of docs/protocol.md 3.7.
 */
export class ProtectedTopics {
  readonly #plain = new Map<string, readonly string[]>();
  readonly #regexes: RegexEntry[] = [];

  /** Parse a file/`protected_update` body (decoded JSON); a bad entry or regex is a `ConfigError` naming it. */
  static parse(raw: unknown, what = 'protected topics'): ProtectedTopics | InvalidPayloadError | ConfigError {
    const r = parseProtectedUpdate(raw);
    if (r instanceof InvalidPayloadError) return new InvalidPayloadError(what, r.detail, { cause: r });
    const topics = new ProtectedTopics();
    for (const [n, entry] of r['write-protect'].entries()) {
      const err = topics.add(entry.topic, entry.capabilities);
      if (err) return new ConfigError(`${what}: write-protect[${n}]: ${err.message}`, { cause: err });
    }
    return topics;
  }

  get size(): number {
    return this.#plain.size + this.#regexes.length;
  }

  /** Add one entry; returns the error for an invalid regex instead of throwing. */
  add(topic: string, capabilities: string | readonly string[]): ConfigError | undefined {
    const caps = typeof capabilities === 'string' ? [capabilities] : [...capabilities];
    if (isRegexText(topic)) {
      const source = topic.slice(1, -1);
      try {
        this.#regexes.push({ source, regex: protectedTopicRegex(topic), capabilities: caps });
      } catch (err) {
        return new ConfigError(`topic ${JSON.stringify(topic)} is not a valid regular expression`, { cause: err });
      }
      return undefined;
    }
    this.#plain.set(topic, caps);
    return undefined;
  }

  /** Capabilities required to publish on `topic`, or undefined when it is not protected. */
  required(topic: string): readonly string[] | undefined {
    const exact = this.#plain.get(topic);
    if (exact) return exact;
    for (const [prefix, caps] of this.#plain) if (topic.startsWith(prefix)) return caps;
    for (const e of this.#regexes) if (e.regex.test(topic)) return e.capabilities;
    return undefined;
  }

  /**
   * The refusal for `user` publishing on `topic`, or undefined when allowed. Unlike VOLTTRON
   * (quirk 12.9), a user absent from `capabilities` is refused on a protected topic.
   */
  check(topic: string, user: string, capabilities: CapabilityMapInput): UnauthorizedError | undefined {
    const required = this.required(topic);
    if (!required || required.length === 0) return undefined;
    const has = Object.hasOwn(capabilities, user) ? capabilities[user] : undefined;
    if (capabilityRefusal(normaliseCapabilities(has), required) === undefined) return undefined;
    // VOLTTRON prints the capabilities as it was given them (a list or a dict)
    const provided = has === undefined || has === null ? {} : has;
    const message = `to publish to topic "${topic}" requires capabilities ${pythonRepr(required)}, but capability list ${pythonRepr(provided)} was provided`;
    return new UnauthorizedError(message, { subsystem: 'pubsub', topic, required, user });
  }
}
