import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAgentCertificate } from '../src/agent-certificate.js';

/** A throw-away CA made by the real openssl CLI (the module drives the same binary). */
const run = promisify(execFile);
let dir: string;
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipctl-cert-test-'));
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(
    'openssl',
    ['req', '-x509', ...newKey, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=v1 instance ca'],
    { timeout: 30_000 },
  );
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('other.key')], { timeout: 30_000 });
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('issueAgentCertificate (openssl CLI)', () => {
  it('a P-256 key and a clientAuth certificate with CN <instance>.<identity>, issued by the CA, for --days; no temp dir left', async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('vipctl-cert-')).length;
    const issued = await issueAgentCertificate({ caCertFile: p('ca.crt'), caKeyFile: p('ca.key'), commonName: 'v1.thermostat', days: 30 });
    const cert = new X509Certificate(issued.cert);
    expect(cert.subject).toBe('CN=v1.thermostat');
    expect(cert.issuer).toBe('CN=v1 instance ca');
    expect(cert.checkIssued(new X509Certificate(await readFile(p('ca.crt'), 'utf8')))).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // extendedKeyUsage clientAuth
    expect(cert.ca).toBe(false);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(30);
    expect(issued.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('vipctl-cert-')).length).toBe(before);
  });

  it('subject specials in the identity are escaped for openssl, not parsed as more RDNs', async () => {
    const issued = await issueAgentCertificate({ caCertFile: p('ca.crt'), caKeyFile: p('ca.key'), commonName: 'v1.a+b=c', days: 1 });
    expect(new X509Certificate(issued.cert).subject.replace(/\\(.)/g, '$1')).toBe('CN=v1.a+b=c');
  });

  it("errors are one line: unreadable CA key, a key that is not the CA's (openssl's first stderr line), no openssl", async () => {
    await expect(
      issueAgentCertificate({ caCertFile: p('ca.crt'), caKeyFile: p('absent.key'), commonName: 'v1.x', days: 1 }),
    ).rejects.toThrow(/^cannot read the CA key \(--rmq-ca-key\) .*absent\.key \(ENOENT\)$/);
    const wrong = issueAgentCertificate({ caCertFile: p('ca.crt'), caKeyFile: p('other.key'), commonName: 'v1.x', days: 1 });
    await expect(wrong).rejects.toThrow(/^cannot issue the agent certificate: openssl failed to sign the certificate: \S.*$/);
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-bin');
    try {
      await expect(issueAgentCertificate({ caCertFile: p('ca.crt'), caKeyFile: p('ca.key'), commonName: 'v1.x', days: 1 })).rejects.toThrow(
        'cannot issue the agent certificate: the openssl command is not installed (or not on PATH)',
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
