import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyError, generateKeyPair, keyToZ85, silentLogger } from '@vip/protocol';
import type { CurveKeyPair, Logger } from '@vip/protocol';
import { z } from 'zod';
import { formatJson, readJsonFile, writeFileAtomic } from './json-file.js';

const KeyTextSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 43-character base64url CURVE key');

/** `{"public": <43>, "secret": <43>}` (docs/protocol.md 5.3); other keys are kept by VOLTTRON, ignored here. */
export const KeyStoreFileSchema = z.looseObject({ public: KeyTextSchema, secret: KeyTextSchema });

/** A key pair in libzmq's Z85 form, for zeromq.js socket options. */
export interface Z85KeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

export interface KeyStoreOptions {
  readonly logger?: Logger;
}

/**
 * A CURVE key pair file in VOLTTRON's format: the platform's `$VIP_HOME/keystore`, or an agent's
 * `$VIP_HOME/keystores/<identity>/keystore.json`. `loadOrCreate()` generates the pair on first
 * use (file 0600, directory 0700) and returns the same pair afterwards. Permissions are checked,
 * never changed: a keystore others may read is reported (`keystore.permissions`), one this
 * process cannot read is a KeyError naming the path.
 */
export class KeyStore {
  readonly path: string;
  readonly #logger: Logger;

  constructor(path: string, options: KeyStoreOptions = {}) {
    this.path = path;
    this.#logger = options.logger ?? silentLogger;
  }

  /** `$VIP_HOME/keystore`. */
  static platform(vipHome: string, options?: KeyStoreOptions): KeyStore {
    return new KeyStore(join(vipHome, 'keystore'), options);
  }

  /** `$VIP_HOME/keystores/<identity>/keystore.json`. */
  static agent(vipHome: string, identity: string, options?: KeyStoreOptions): KeyStore {
    if (identity === '' || identity === '.' || identity === '..' || /[/\\\0]/.test(identity)) {
      throw new KeyError(`identity ${JSON.stringify(identity)} cannot name a keystore directory`);
    }
    return new KeyStore(join(vipHome, 'keystores', identity, 'keystore.json'), options);
  }

  /** The stored pair, or undefined when the file does not exist. Throws KeyError. */
  async load(): Promise<CurveKeyPair | undefined> {
    let data: z.output<typeof KeyStoreFileSchema> | undefined;
    try {
      data = await readJsonFile(this.path, KeyStoreFileSchema, { what: 'keystore' });
    } catch (err) {
      throw new KeyError((err as Error).message, { cause: err });
    }
    if (data === undefined) return undefined;
    await this.#checkPermissions();
    return { public: data.public, secret: data.secret };
  }

  /** The stored pair, generated and written (0600) when the file does not exist yet. */
  async loadOrCreate(): Promise<CurveKeyPair> {
    const existing = await this.load();
    if (existing) return existing;
    const pair = generateKeyPair();
    try {
      await writeFileAtomic(this.path, formatJson({ public: pair.public, secret: pair.secret }), { mode: 0o600, dirMode: 0o700 });
    } catch (err) {
      throw new KeyError(`cannot create keystore ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.#logger.info('keystore.created', { path: this.path, public: pair.public });
    return pair;
  }

  async #checkPermissions(): Promise<void> {
    try {
      await access(this.path, constants.R_OK);
      const { mode } = await stat(this.path);
      if (mode & 0o077) this.#logger.warn('keystore.permissions', { path: this.path, mode: (mode & 0o777).toString(8), expected: '600' });
    } catch (err) {
      throw new KeyError(`keystore ${this.path} is not readable: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The pair in Z85 for zeromq.js (`curvePublicKey`, `curveSecretKey`). */
export function toZ85KeyPair(pair: CurveKeyPair): Z85KeyPair {
  return { publicKey: keyToZ85(pair.public), secretKey: keyToZ85(pair.secret) };
}
