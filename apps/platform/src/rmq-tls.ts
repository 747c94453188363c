import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@vip/protocol';
import type { RmqLinkOptionsInput } from '@vip/rmq';

/**
 * The TLS settings of the broker link as given: file paths (absolute), not contents. This is what
 * `run/bus.json` records for vipctl; the contents are read at start (loadRmqTls).
 */
export interface RmqTlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly passphraseFile?: string;
  readonly servername?: string;
  /**
   * The instance CA's private key (`--rmq-ca-key`, unencrypted PEM, the key of `ca`): the platform
   * never uses it; it is recorded so `vipctl auth add --identity` can sign agents' client certificates.
   */
  readonly caKey?: string;
  /** SASL EXTERNAL: the broker authenticates the client by its certificate (VOLTTRON's default RMQ mode). */
  readonly external: boolean;
}

/** What @vip/rmq takes as `tls` (PEM text). Holds the private key: never logged. */
export type RmqTlsPem = NonNullable<RmqLinkOptionsInput['tls']>;

export interface RmqTlsConfig {
  readonly files: RmqTlsFiles;
  readonly pem: RmqTlsPem;
}

/**
 * Check how the TLS flags fit together and with the broker URL, then read and check the PEM
 * files. Throws ConfigError naming the flag (and the path) at fault.
 */
export function loadRmqTls(files: RmqTlsFiles, url: string): RmqTlsConfig {
  const u = new URL(url);
  if (files.external && (files.cert === undefined || files.key === undefined)) {
    throw new ConfigError("invalid option: --rmq-external needs --rmq-cert and --rmq-key (the broker user is the certificate's CN)");
  }
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new ConfigError('invalid option: --rmq-cert and --rmq-key go together (the client certificate and its private key)');
  }
  if (files.caKey !== undefined && files.ca === undefined) {
    throw new ConfigError('invalid option: --rmq-ca-key needs --rmq-ca (the CA certificate it signs agent certificates with)');
  }
  if (files.passphraseFile !== undefined && files.key === undefined) {
    throw new ConfigError('invalid option: --rmq-key-passphrase-file needs --rmq-key');
  }
  if (u.protocol !== 'amqps:') {
    const flag = files.external ? '--rmq-external needs' : '--rmq-ca, --rmq-cert, --rmq-key and --rmq-servername need';
    throw new ConfigError(`invalid option: ${flag} an amqps:// --rmq-url (got ${u.protocol}//${u.host})`);
  }
  if (files.external && u.password !== '') {
    throw new ConfigError('invalid option: --rmq-external logs in by certificate: drop user:password from --rmq-url');
  }
  const passphrase =
    files.passphraseFile === undefined ? undefined : readText('--rmq-key-passphrase-file', files.passphraseFile).replace(/\r?\n$/, '');
  const ca = files.ca === undefined ? undefined : readPem('--rmq-ca', files.ca, 'CERTIFICATE');
  const caCert = ca === undefined ? undefined : certificate('--rmq-ca', files.ca!, ca);
  if (caCert !== undefined && files.caKey !== undefined) checkCaKey(caCert, files.ca!, files.caKey);
  const cert = files.cert === undefined ? undefined : readPem('--rmq-cert', files.cert, 'CERTIFICATE');
  const key = files.key === undefined ? undefined : readPem('--rmq-key', files.key, 'PRIVATE KEY');
  if (cert !== undefined && key !== undefined) {
    const x509 = certificate('--rmq-cert', files.cert!, cert);
    if (!x509.checkPrivateKey(privateKey(files.key!, key, passphrase))) {
      throw new ConfigError(`invalid option: --rmq-key ${files.key} is not the private key of --rmq-cert ${files.cert}`);
    }
  }
  const text = Object.entries({ ca, cert, key, passphrase, servername: files.servername }).filter(([, v]) => v !== undefined);
  return { files, pem: { ...(Object.fromEntries(text) as Omit<RmqTlsPem, 'external'>), external: files.external } };
}

/**
 * The CA key must open without a passphrase (vipctl signs with it unattended) and be the key of the
 * (first) CA certificate. Its text is dropped after the check: only the path is kept.
 */
function checkCaKey(caCert: X509Certificate, caPath: string, keyPath: string): void {
  const pem = readPem('--rmq-ca-key', keyPath, 'PRIVATE KEY');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(`invalid option: --rmq-ca-key ${keyPath}: cannot read the private key (it must not be encrypted)`, {
      cause: err,
    });
  }
  if (!caCert.checkPrivateKey(key)) {
    throw new ConfigError(`invalid option: --rmq-ca-key ${keyPath} is not the private key of --rmq-ca ${caPath}`);
  }
}

function readText(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`invalid option: ${flag} ${path}: cannot read it (${code})`, { cause: err });
  }
}

/** The file's text when it holds a PEM block of `kind` (`PRIVATE KEY` also matches `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`...). */
function readPem(flag: string, path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const text = readText(flag, path);
  const block = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----/;
  if (!block.test(text)) throw new ConfigError(`invalid option: ${flag} ${path} is not a PEM file with a ${kind} block`);
  return text;
}

function certificate(flag: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`invalid option: ${flag} ${path}: not a readable certificate (${(err as Error).message})`, { cause: err });
  }
}

function privateKey(path: string, pem: string, passphrase: string | undefined): KeyObject {
  try {
    return createPrivateKey({ key: pem, ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (err) {
    const hint = passphrase === undefined ? ' (encrypted? pass --rmq-key-passphrase-file)' : ' (wrong --rmq-key-passphrase-file?)';
    throw new ConfigError(`invalid option: --rmq-key ${path}: cannot read the private key${hint}`, { cause: err });
  }
}
