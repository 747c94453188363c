import { ConfigError } from './errors.js';
import { closestMatch } from './suggest.js';

/**
 * Keys vip reads from `$VIP_HOME/config` (vip-platform's option names without `--`; vipctl reads
 * some of them too). One list for both apps, so each warns about the same unknown keys.
 */
export const PLATFORM_CONFIG_KEYS = [
  'message-bus',
  'vip-address',
  'local-address',
  'instance-name',
  'allow-auth',
  'legacy-pubsub',
  'capability-map-access',
  'pubsub-restore-grace',
  'log-level',
  'log-format',
  'log-file',
  'http',
  'http-token-file',
  'rmq-url',
  'rmq-vhost',
  'rmq-management-url',
  'rmq-ca',
  'rmq-ca-key',
  'rmq-cert',
  'rmq-key',
  'rmq-key-passphrase-file',
  'rmq-servername',
  'rmq-external',
  'rmq-broker-user',
  'rmq-shared-login',
  'rmq-legacy-peers',
  'proxy-router-address',
  'rmq-failover-urls',
  'rmq-persistent-queue-type',
  'max-message-bytes',
  'peer-queue-bytes',
  'peer-queue-messages',
  'router-queue-bytes',
  'zmq-send-hwm',
  'bind-web-address',
  'setup-mode',
  'external-platform-discovery',
  'external-address-file',
  'accept-changed-key',
  'multi-platform',
] as const;
export type PlatformConfigKey = (typeof PLATFORM_CONFIG_KEYS)[number];

/**
 * VOLTTRON 9's own `[volttron]` keys (its `volttron` options and what `vcfg` writes) that vip does
 * not use: a VOLTTRON home's config file has them, so they are ignored without a warning.
 */
export const VOLTTRON_ONLY_CONFIG_KEYS = [
  'log',
  'log-config',
  'monitor',
  'verboseness',
  'quiet',
  'verbose',
  'autostart',
  'no-autostart',
  'publish-address',
  'subscribe-address',
  'vip-local-address',
  'web-ca-cert',
  'web-secret-key',
  'web-ssl-key',
  'web-ssl-cert',
  'volttron-central-address',
  'volttron-central-serverkey',
  'volttron-central-rmq-address',
  'msgdebug',
  'agent-monitor-frequency',
  'secure-agent-users',
  'agent-isolation-mode',
  'developer-mode',
  'restricted',
  'verify',
  'resource-monitor',
  'allow-root',
  'allow-users',
  'allow-groups',
  'opt-in',
  'show-config',
] as const;

/** A key in the `[volttron]` section that neither vip nor VOLTTRON knows (a typo, most likely). */
export interface UnknownConfigKey {
  readonly key: string;
  /** 1-based line in the file. */
  readonly line: number;
  /** The known key it most resembles, if any. */
  readonly suggestion?: string;
}

export interface ParsedConfigFile {
  readonly values: Partial<Record<PlatformConfigKey, string>>;
  readonly unknown: readonly UnknownConfigKey[];
}

/**
 * Parse VOLTTRON's `$VOLTTRON_HOME/config` (INI: a `[volttron]` section of `key = value` lines,
 * `#`/`;` comments), e.g. `message-bus = rmq`. Keys are compared lower-case with `_` as `-`.
 * Keys VOLTTRON has and vip does not use are ignored; any other key in `[volttron]` is returned in
 * `unknown` (with the nearest known key) for the caller to warn about; other sections are not
 * read. A line that is not `key = value` throws ConfigError naming the file and line.
 */
export function parseConfigFile(text: string, path: string): ParsedConfigFile {
  const values: Partial<Record<PlatformConfigKey, string>> = {};
  const unknown: UnknownConfigKey[] = [];
  const known = new Set<string>(PLATFORM_CONFIG_KEYS);
  const ignored = new Set<string>(VOLTTRON_ONLY_CONFIG_KEYS);
  let section = 'volttron';
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      return;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*[=:]\s*(.*)$/.exec(line);
    if (!kv) throw new ConfigError(`${path}:${i + 1}: expected "key = value", got ${JSON.stringify(line.slice(0, 60))}`);
    if (section !== 'volttron') return;
    const key = kv[1]!.toLowerCase().replaceAll('_', '-');
    if (known.has(key)) values[key as PlatformConfigKey] = kv[2]!.trim();
    else if (!ignored.has(key)) {
      const suggestion = closestMatch(key, PLATFORM_CONFIG_KEYS);
      unknown.push({ key: kv[1]!, line: i + 1, ...(suggestion !== undefined ? { suggestion } : {}) });
    }
  });
  return { values, unknown };
}

/** One line for an unknown key: `/h/config:3: unknown key "mesage-bus" (did you mean message-bus?); ignored`. */
export function describeUnknownConfigKey(path: string, u: UnknownConfigKey): string {
  const hint = u.suggestion !== undefined ? ` (did you mean ${u.suggestion}?)` : '';
  return `${path}:${u.line}: unknown key ${JSON.stringify(u.key)}${hint}; ignored`;
}
