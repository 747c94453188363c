import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@vip/protocol';

/** Keys the platform reads from `$VIP_HOME/config` (the CLI option names, without `--`). */
export const CONFIG_FILE_KEYS = [
  'message-bus', 'vip-address', 'local-address', 'instance-name', 'allow-auth', 'legacy-pubsub', 'capability-map-access',
  'pubsub-restore-grace', 'log-level',
  'rmq-url', 'rmq-vhost', 'rmq-management-url',
  'rmq-ca', 'rmq-ca-key', 'rmq-cert', 'rmq-key', 'rmq-key-passphrase-file', 'rmq-servername', 'rmq-external', 'rmq-broker-user',
  'rmq-shared-login', 'rmq-legacy-peers',
  'max-message-bytes', 'peer-queue-bytes', 'peer-queue-messages', 'router-queue-bytes', 'zmq-send-hwm',
] as const;
export type ConfigFileKey = (typeof CONFIG_FILE_KEYS)[number];

export function configFilePath(vipHome: string): string {
  return join(vipHome, 'config');
}

/**
 * Parse VOLTTRON's `$VOLTTRON_HOME/config` (INI: a `[volttron]` section of `key = value` lines,
 * `#`/`;` comments), e.g. `message-bus = rmq`, `instance-name = v1`, `vip-address = tcp://...`.
 * Keys we do not use (VOLTTRON has more) are ignored; lines that are not `key = value` are refused.
 */
export function parseConfigFile(text: string, path: string): Partial<Record<ConfigFileKey, string>> {
  const out: Partial<Record<ConfigFileKey, string>> = {};
  let section = 'volttron';
  const known = new Set<string>(CONFIG_FILE_KEYS);
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
    const key = kv[1]!.toLowerCase().replaceAll('_', '-');
    if (section === 'volttron' && known.has(key)) out[key as ConfigFileKey] = kv[2]!.trim();
  });
  return out;
}

/** The config file of a home, or an empty record when there is none. */
export function readConfigFile(vipHome: string): Partial<Record<ConfigFileKey, string>> {
  const path = configFilePath(vipHome);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new ConfigError(`cannot read ${path} (${code ?? 'error'}): check its permissions`, { cause: err });
  }
  return parseConfigFile(text, path);
}
