import { X509Certificate } from 'node:crypto';
import type { AgentRmqFile } from '@vip/rmq';
import { agentCertPaths, checkBrokerIdentity, grantAgentUser, writeAgentFiles, type CreatedBrokerUser } from './agent-broker-user.js';
import { DEFAULT_CERT_DAYS, issueAgentCertificate } from './agent-certificate.js';
import { CliError, EXIT } from './exit-codes.js';
import type { PlatformBus } from './platform-bus.js';

type RmqBus = Extract<PlatformBus, { bus: 'rmq' }>;

/** True when the platform logs in by certificate (SASL EXTERNAL): agents then get certificates, not passwords. */
export function usesCertificateLogin(bus: PlatformBus): bus is RmqBus {
  return bus.bus === 'rmq' && bus.tls?.external === true;
}

/**
 * `auth add --identity` on an EXTERNAL platform: issue the agent a client certificate with CN
 * `<instance>.<identity>` signed by the instance CA (the platform's `--rmq-ca` + `--rmq-ca-key`),
 * create broker user `<instance>.<identity>` without a password (it can log in only by EXTERNAL)
 * with VOLTTRON's permissions and the fail-closed topic permission, then write the certificate, the
 * key and rmq.json (0600). The certificate comes first: when openssl fails nothing is created.
 */
export async function createAgentCertUser(
  bus: RmqBus,
  vipHome: string,
  identity: string,
  days = DEFAULT_CERT_DAYS,
): Promise<CreatedBrokerUser> {
  checkBrokerIdentity(bus.instanceName, identity);
  const tls = bus.tls!;
  if (tls.caKey === undefined || tls.ca === undefined) {
    throw new CliError(
      'this platform logs agents in by certificate (SASL EXTERNAL) but recorded no CA key: start vip-platform with --rmq-ca-key FILE ' +
        '(the private key of --rmq-ca) so vipctl can issue agent certificates',
      EXIT.ERROR,
    );
  }
  const user = `${bus.instanceName}.${identity}`;
  const issued = await issueAgentCertificate({ caCertFile: tls.ca, caKeyFile: tls.caKey, commonName: user, days });
  await grantAgentUser(bus, identity, (api) => api.ensureUserWithoutPassword(user));
  const broker = new URL(bus.url);
  const paths = agentCertPaths(vipHome, identity);
  const file: AgentRmqFile = {
    url: `${broker.protocol}//${broker.host}`,
    vhost: bus.vhost,
    instanceName: bus.instanceName,
    identity,
    user,
    tls: { ca: tls.ca, cert: paths.cert, key: paths.key, ...(tls.servername !== undefined ? { servername: tls.servername } : {}) },
    external: true,
    ...(bus.failoverUrls !== undefined ? { failoverUrls: [...bus.failoverUrls] } : {}),
  };
  const path = await writeAgentFiles(vipHome, file, { [paths.cert]: issued.cert, [paths.key]: issued.key });
  return {
    user,
    vhost: bus.vhost,
    instanceName: bus.instanceName,
    identity,
    path,
    certificate: {
      cert: paths.cert,
      key: paths.key,
      ca: tls.ca,
      issuer: new X509Certificate(issued.cert).issuer,
      notAfter: issued.notAfter,
    },
  };
}
