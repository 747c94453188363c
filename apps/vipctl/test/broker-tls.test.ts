import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBrokerTls } from '../src/broker-tls.js';
import { CliError, EXIT } from '../src/exit-codes.js';

// The PEM check is textual (the TLS handshake judges chains and keys): stand-in blocks are enough here.
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n';
let dir: string;
const p = (n: string) => join(dir, n);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipctl-tls-'));
  await writeFile(p('c.pem'), CERT);
  await writeFile(p('k.pem'), KEY);
  await writeFile(p('pass'), 'pw\n');
  await writeFile(p('junk'), 'not pem');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vipctl: reading the broker certificate files', () => {
  it('reads CA, certificate, key and passphrase (newline dropped); keeps servername and EXTERNAL', async () => {
    expect(
      await readBrokerTls({
        ca: p('c.pem'),
        cert: p('c.pem'),
        key: p('k.pem'),
        passphraseFile: p('pass'),
        servername: 'b',
        external: true,
      }),
    ).toEqual({ ca: CERT, cert: CERT, key: KEY, passphrase: 'pw', servername: 'b', external: true });
    expect(await readBrokerTls({ external: false })).toEqual({ external: false });
  });

  it('a missing or non-PEM file is one line naming it (exit 1)', async () => {
    const fail = (files: Parameters<typeof readBrokerTls>[0]) =>
      readBrokerTls(files).then(
        () => undefined,
        (e: unknown) => e as CliError,
      );
    const gone = await fail({ cert: p('gone.pem'), key: p('k.pem'), external: true });
    expect(gone).toBeInstanceOf(CliError);
    expect(gone?.exitCode).toBe(EXIT.ERROR);
    expect(gone?.message).toBe(`cannot read the client certificate (--rmq-cert) ${p('gone.pem')} (ENOENT)`);
    expect((await fail({ ca: p('junk'), external: false }))?.message).toBe(`the CA certificate (--rmq-ca) ${p('junk')} is not a PEM file`);
    expect((await fail({ cert: p('c.pem'), key: p('c.pem'), external: false }))?.message).toMatch(
      /private key \(--rmq-key\) .* is not a PEM file/,
    );
  });
});
