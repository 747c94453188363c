import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

export const DEFAULT_CERT_DAYS = 365;
/** Per openssl call; key generation and signing take milliseconds, a hung call must not hang vipctl. */
const OPENSSL_TIMEOUT_MS = 30_000;

export interface IssueCertificateRequest {
  /** PEM file of the instance CA (the platform's `--rmq-ca`). */
  readonly caCertFile: string;
  /** Its unencrypted private key (the platform's `--rmq-ca-key`). */
  readonly caKeyFile: string;
  /** The subject CN: the broker user, `<instance>.<identity>` (ssl_cert_login_from = common_name). */
  readonly commonName: string;
  readonly days: number;
}

/** A new client key pair and certificate (PEM text; the key is secret: never printed). */
export interface IssuedCertificate {
  readonly cert: string;
  readonly key: string;
  readonly notAfter: string;
}

/**
 * Issue a client certificate as VOLTTRON's `vctl certs create-ssl-keypair` does for an agent: a new
 * EC P-256 key, CN = the broker user, signed by the instance CA, extendedKeyUsage clientAuth.
 * Runs the `openssl` CLI with argument lists (no shell) in a private temporary directory that is
 * removed afterwards; a random serial (no `.srl` file next to the CA). The result is checked with
 * node:crypto (key matches, CA signature verifies) before anyone relies on it.
 */
export async function issueAgentCertificate(req: IssueCertificateRequest): Promise<IssuedCertificate> {
  await readable('CA certificate (--rmq-ca)', req.caCertFile);
  await readable('CA key (--rmq-ca-key)', req.caKeyFile);
  const dir = await mkdtemp(join(tmpdir(), 'vipctl-cert-')); // 0700
  try {
    const f = (name: string) => join(dir, name);
    await writeFile(
      f('ext.cnf'),
      'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyAgreement\nextendedKeyUsage = clientAuth\n',
    );
    await openssl('generate the key', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('key.pem')]);
    await openssl('make the request', [
      'req',
      '-new',
      '-utf8',
      '-key',
      f('key.pem'),
      '-subj',
      `/CN=${subjectValue(req.commonName)}`,
      '-out',
      f('req.csr'),
    ]);
    const serial = randomBytes(16);
    serial[0] = serial[0]! & 0x7f; // a positive INTEGER
    await openssl('sign the certificate', [
      'x509',
      '-req',
      '-in',
      f('req.csr'),
      '-CA',
      req.caCertFile,
      '-CAkey',
      req.caKeyFile,
      '-set_serial',
      `0x${serial.toString('hex')}`,
      '-days',
      String(req.days),
      '-sha256',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('cert.pem'),
    ]);
    const [cert, key] = [await readFile(f('cert.pem'), 'utf8'), await readFile(f('key.pem'), 'utf8')];
    const notAfter = check(cert, key, await readFile(req.caCertFile, 'utf8'), req.commonName);
    return { cert, key, notAfter };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readable(what: string, path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, EXIT.ERROR, { cause: err });
  }
}

/** `-subj` treats `/` and `+` as separators and `\` as escape: escape every such character. */
function subjectValue(text: string): string {
  return text.replace(/[\\/+=]/g, (c) => `\\${c}`);
}

function openssl(step: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', [...args], { timeout: OPENSSL_TIMEOUT_MS, windowsHide: true }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') {
        return reject(
          new CliError('cannot issue the agent certificate: the openssl command is not installed (or not on PATH)', EXIT.ERROR, {
            cause: err,
          }),
        );
      }
      const why = e.killed ? `no answer within ${OPENSSL_TIMEOUT_MS / 1000} s` : firstLine(String(stderr)) || e.message;
      reject(new CliError(`cannot issue the agent certificate: openssl failed to ${step}: ${why}`, EXIT.ERROR, { cause: err }));
    });
  });
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/** The certificate is the key's, names `cn` and verifies with the CA's key; returns its notAfter. */
function check(certPem: string, keyPem: string, caPem: string, cn: string): string {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  if (!cert.checkPrivateKey(createPrivateKey(keyPem)) || !cert.verify(ca.publicKey) || !cert.checkIssued(ca)) {
    throw new CliError(
      'cannot issue the agent certificate: openssl produced a certificate that does not check out (key or CA signature)',
      EXIT.ERROR,
    );
  }
  // node escapes RFC 2253 specials (`+`, `=`...) with a backslash when it prints the subject
  if (cert.subject.replace(/\\(.)/g, '$1') !== `CN=${cn}`) {
    throw new CliError(`cannot issue the agent certificate: its subject is ${JSON.stringify(cert.subject)}, expected CN=${cn}`, EXIT.ERROR);
  }
  return cert.validTo;
}
