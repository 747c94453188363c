import { readFile } from 'node:fs/promises';
import type { RmqLinkOptionsInput } from '@vip/rmq';
import { CliError, EXIT } from './exit-codes.js';
import { definedOnly, type BrokerTlsFiles } from './platform-bus.js';

/** The `tls` option of @vip/rmq (PEM text; holds the private key: never printed). */
export type BrokerTlsPem = NonNullable<RmqLinkOptionsInput['tls']>;

/**
 * Read the certificate files the platform recorded (or the flags named). A file that is gone or
 * is not PEM is one line naming it; the TLS handshake judges the rest (chain, key match).
 */
export async function readBrokerTls(files: BrokerTlsFiles): Promise<BrokerTlsPem> {
  const pem = async (what: string, path: string | undefined, block: RegExp): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    const text = await readFile(path, 'utf8').catch((err: unknown) => {
      throw new CliError(`cannot read the ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, EXIT.ERROR, { cause: err });
    });
    if (!block.test(text)) throw new CliError(`the ${what} ${path} is not a PEM file`, EXIT.ERROR);
    return text;
  };
  const certBlock = /-----BEGIN CERTIFICATE-----/;
  const ca = await pem('CA certificate (--rmq-ca)', files.ca, certBlock);
  const cert = await pem('client certificate (--rmq-cert)', files.cert, certBlock);
  const key = await pem('private key (--rmq-key)', files.key, /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----/);
  const passphrase =
    files.passphraseFile === undefined
      ? undefined
      : (await pem('key passphrase file', files.passphraseFile, /(?:)/))!.replace(/\r?\n$/, '');
  return { ...definedOnly({ ca, cert, key, passphrase, servername: files.servername }), external: files.external };
}
