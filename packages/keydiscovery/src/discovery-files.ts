import { join } from 'node:path';
import { ConfigError } from '@vip/protocol';
import { describeIssues, readJsonFile, writeFileAtomic } from '@vip/auth';
import { z } from 'zod';

/** The files of key discovery in a platform's home, under VOLTTRON's names (docs/protocol.md 6.1). */
export interface KeyDiscoveryPaths {
  /** `external_address.json`: the other platforms' web addresses, read in setup mode. */
  readonly externalAddresses: string;
  /** `external_platform_discovery.json`: what discovery found, by instance name. */
  readonly platformDiscovery: string;
}

export function keyDiscoveryPaths(vipHome: string): KeyDiscoveryPaths {
  return {
    externalAddresses: join(vipHome, 'external_address.json'),
    platformDiscovery: join(vipHome, 'external_platform_discovery.json'),
  };
}

/** More web addresses or platforms than this in one file is refused (memory stays bounded). */
export const MAX_PLATFORMS = 1_000;

/**
 * external_address.json: a JSON array of web addresses (`["http://10.0.0.2:8080", ...]`). An
 * empty file counts as an empty list, as VOLTTRON reads it. The entries are checked one by one
 * later (`parseWebAddress`), so one typo does not hide the other platforms.
 */
export const ExternalAddressFileSchema = z.union([
  z.array(z.string()).max(MAX_PLATFORMS, `at most ${MAX_PLATFORMS} web addresses`),
  z.strictObject({}).transform((): string[] => []),
]);

/** Reads external_address.json; undefined when the file does not exist. Throws ConfigError. */
export async function readExternalAddresses(path: string): Promise<string[] | undefined> {
  return readJsonFile(path, ExternalAddressFileSchema, { what: 'external address file' });
}

/**
 * One entry of external_platform_discovery.json as normal mode reads it. VOLTTRON stores the
 * discovery answer as it came (`serverkey`, `vip-address`, `instance-name`, RMQ keys on RMQ
 * platforms); vip adds `web-address`, where the answer came from, so that normal mode can ask
 * again and check the key. VOLTTRON's RoutingService reads only the three link keys, so the
 * extra one does not disturb it; entries written by VOLTTRON or by hand have none and are used
 * as written.
 */
export const StoredPlatformSchema = z.looseObject({
  'instance-name': z.string().min(1).optional(),
  'vip-address': z.string(),
  serverkey: z.string(),
  'web-address': z.string().optional(),
});
export type StoredPlatform = z.infer<typeof StoredPlatformSchema>;

const DiscoveryFileSchema = z
  .record(z.string(), z.unknown())
  .refine((entries) => Object.keys(entries).length <= MAX_PLATFORMS, `at most ${MAX_PLATFORMS} platforms`);

/** One entry read back: checked, or why it cannot be used (the rest of the file still can). */
export type StoredEntry =
  | { readonly key: string; readonly ok: true; readonly entry: StoredPlatform }
  | { readonly key: string; readonly ok: false; readonly problem: ConfigError };

/**
 * `$VIP_HOME/external_platform_discovery.json` in VOLTTRON's format: one JSON object, instance name
 * to entry, written compact and ASCII-escaped as VOLTTRON's PersistentDict writes it
 * (`json.dump(..., separators=(',', ':'))`, no trailing newline), atomically, mode 0644 (public
 * keys and addresses only). Entries this code does not touch are written back exactly as read, so
 * a file VOLTTRON wrote survives a vip update unchanged but for the updated entries.
 */
export class PlatformDiscoveryFile {
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** Every entry as stored, unchecked (empty when the file does not exist). Throws ConfigError. */
  async raw(): Promise<Record<string, unknown>> {
    return (await readJsonFile(this.path, DiscoveryFileSchema, { what: 'platform discovery file' })) ?? {};
  }

  /** Every entry, each checked on its own. Throws ConfigError when the file as a whole is unreadable. */
  async entries(): Promise<StoredEntry[]> {
    return Object.entries(await this.raw()).map(([key, value]) => {
      const parsed = StoredPlatformSchema.safeParse(value);
      if (parsed.success) return { key, ok: true, entry: parsed.data };
      const where = `platform discovery file ${this.path}, entry ${JSON.stringify(key)}`;
      const problem = new ConfigError(`${where}: ${describeIssues(parsed.error)}`);
      return { key, ok: false, problem };
    });
  }

  /** Sets (adds or replaces) one entry; other entries are kept as they are. */
  set(key: string, entry: StoredPlatform): Promise<void> {
    return this.#change((entries) => {
      entries[key] = entry;
    });
  }

  /** Removes one entry; resolves false when there was none. */
  remove(key: string): Promise<boolean> {
    return this.#change((entries) => {
      if (!Object.hasOwn(entries, key)) return false;
      delete entries[key];
      return true;
    });
  }

  /** Changes are applied one at a time, each to a fresh read of the file (an operator may edit it). */
  #change<T>(apply: (entries: Record<string, unknown>) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const entries = await this.raw();
      const result = apply(entries);
      try {
        await writeFileAtomic(this.path, formatCompactJson(entries), { mode: 0o644 });
      } catch (err) {
        throw new ConfigError(`cannot write platform discovery file ${this.path}: ${(err as Error).message}`, { cause: err });
      }
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * JSON as Python's `json.dump(value, separators=(',', ':'))` writes it: no spaces, every character
 * outside printable ASCII escaped as `\uXXXX` (lower-case hex; JSON.stringify already writes control
 * characters that way).
 */
export function formatCompactJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
