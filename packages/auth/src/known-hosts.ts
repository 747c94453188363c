import { join } from 'node:path';
import { KeyError, encodeKey } from '@vip/protocol';
import { z } from 'zod';
import { formatJson, readJsonFile, writeFileAtomic } from './json-file.js';

export const KnownHostsFileSchema = z.record(z.string(), z.string().min(1, 'a server key cannot be empty'));

/**
 * The known_hosts key of an address, as VOLTTRON computes it (`urlparse`: the netloc, else the
 * path): `tcp://127.0.0.1:22916?serverkey=..` -> `127.0.0.1:22916`, `ipc:///run/vip.socket` ->
 * `/run/vip.socket`. Quirk kept for compatibility (docs/protocol.md 5.3, 12.15): an abstract ipc address
 * `ipc://@/path` has the netloc `@`, so every abstract ipc address shares the key `@`.
 * Text without `://` is taken as a key already.
 */
export function knownHostsKey(address: string): string {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/.exec(address);
  if (!match) return address;
  const [, netloc = '', path = ''] = match;
  return netloc !== '' ? netloc : path;
}

/**
 * `$VIP_HOME/known_hosts`: a JSON object from address key (see `knownHostsKey`) to server key
 * (43-char base64url), mode 0644. Every change re-reads the file and writes it atomically.
 */
export class KnownHosts {
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** `$VIP_HOME/known_hosts`. */
  static forHome(vipHome: string): KnownHosts {
    return new KnownHosts(join(vipHome, 'known_hosts'));
  }

  /** Every entry (empty when the file does not exist). Throws KeyError naming the path. */
  async all(): Promise<Record<string, string>> {
    try {
      return (await readJsonFile(this.path, KnownHostsFileSchema, { what: 'known_hosts file' })) ?? {};
    } catch (err) {
      throw new KeyError((err as Error).message, { cause: err });
    }
  }

  /** The server key for an address or key, or undefined. */
  async get(address: string): Promise<string | undefined> {
    return (await this.all())[knownHostsKey(address)];
  }

  /** Records a server key (any encoding decodeKey accepts; stored as 43-char base64url). */
  async add(address: string, serverKey: string): Promise<void> {
    const key = knownHostsKey(address);
    if (key === '') throw new KeyError(`address ${JSON.stringify(address)} has no host or path for known_hosts`);
    const encoded = encodeKey(serverKey);
    await this.#change((hosts) => {
      hosts[key] = encoded;
    });
  }

  /** Removes the entry; resolves false when there was none. */
  remove(address: string): Promise<boolean> {
    const key = knownHostsKey(address);
    return this.#change((hosts) => {
      if (!(key in hosts)) return false;
      delete hosts[key];
      return true;
    });
  }

  #change<T>(apply: (hosts: Record<string, string>) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const hosts = await this.all();
      const result = apply(hosts);
      try {
        await writeFileAtomic(this.path, formatJson(hosts), { mode: 0o644 });
      } catch (err) {
        throw new KeyError(`cannot write known_hosts file ${this.path}: ${(err as Error).message}`, { cause: err });
      }
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
