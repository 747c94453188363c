import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AgentRmqFileSchema,
  agentRmqFilePath,
  isPlatformIdentity,
  platformBrokerUser,
  readAgentRmqFile as readRmqFile,
  RmqSetupError,
  VOLTTRON_EXCHANGE,
  type AgentRmqFile,
} from '@vip/rmq';
import { agentPermissions, RabbitMqManagement } from '@vip/rmq/admin';
import { writeFileAtomic } from '@vip/auth';
import { CliError, EXIT } from './exit-codes.js';
import type { PlatformBus } from './platform-bus.js';

type RmqBus = Extract<PlatformBus, { bus: 'rmq' }>;

/** `$VIP_HOME/keystores/<identity>/rmq.json` (@vip/rmq AgentRmqFileSchema: what connectRmqAgent({ identity }) reads). */
export function agentRmqPath(vipHome: string, identity: string): string {
  return agentRmqFilePath(vipHome, identity);
}

/** The agent's client certificate and key on an EXTERNAL platform (written by `auth add --identity`). */
export function agentCertPaths(vipHome: string, identity: string): { cert: string; key: string } {
  const dir = join(vipHome, 'keystores', identity);
  return { cert: join(dir, 'rmq-cert.pem'), key: join(dir, 'rmq-key.pem') };
}

/**
 * An identity that can name a broker user, a routing key and a keystore directory: no `/`, `\`,
 * NUL or other control characters, no routing-key wildcards `*` `#`, not `.` or `..`, and
 * `<instance>.<identity>` within AMQP's 255-byte short string. Never one of the platform's own
 * identities (router, control, platform.auth, control.connection*): only the platform's broker
 * user may act as them, and `router` names that user itself.
 */
export function checkBrokerIdentity(instanceName: string, identity: string): void {
  if (isPlatformIdentity(identity)) {
    throw new CliError(
      `--identity ${JSON.stringify(identity)} is the platform's own identity: only the platform's broker user ${platformBrokerUser(instanceName)} may act as it`,
      EXIT.USAGE,
    );
  }
  const bad = identity === '.' || identity === '..' || /[/\\*#\p{Cc}]/u.test(identity);
  if (bad) {
    throw new CliError(
      `--identity ${JSON.stringify(identity)} cannot name a broker user (no "/", "\\", "*", "#" or control characters)`,
      EXIT.USAGE,
    );
  }
  if (Buffer.byteLength(`${instanceName}.${identity}`, 'utf8') > 255) {
    throw new CliError(`--identity is too long: "${instanceName}.<identity>" must fit in 255 bytes`, EXIT.USAGE);
  }
}

/** Read and check an agent's rmq.json; undefined when there is none, exit 1 with the file named when it is not one. */
export async function readAgentRmqFile(vipHome: string, identity: string): Promise<AgentRmqFile | undefined> {
  try {
    return await readRmqFile(vipHome, identity);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.ERROR, { cause: err });
  }
}

/** What `auth add --identity` made on the broker (the password stays in the file). */
export interface CreatedBrokerUser {
  readonly user: string;
  readonly vhost: string;
  readonly instanceName: string;
  readonly identity: string;
  readonly path: string;
  /** The platform runs on a shared login: the agent needs `senderProof: 'optional'` (see connectHint). */
  readonly sharedLogin?: true;
  /** Set on an EXTERNAL platform: the issued certificate (paths; the key is never printed). */
  readonly certificate?: {
    readonly cert: string;
    readonly key: string;
    readonly ca?: string;
    readonly issuer: string;
    readonly notAfter: string;
  };
}

/** A new agent user's topic permission until the platform sets the real one: every key but pubsub publishes. */
const PUBSUB_WRITES_PENDING = { exchange: VOLTTRON_EXCHANGE, write: '^(?!__pubsub__\\.)', read: '.*' };

/**
 * Broker user `<instance>.<identity>` made by `login` (a password, or certificate login only) with
 * VOLTTRON's default permissions on the platform's vhost. A new user starts fail closed: no pubsub
 * writes until the platform gives it its protected-topics permission (at its hello, or the
 * platform's next sync), set before the vhost rights exist.
 */
export async function grantAgentUser(bus: RmqBus, identity: string, login: (api: RabbitMqManagement) => Promise<void>): Promise<void> {
  const user = `${bus.instanceName}.${identity}`;
  const api = new RabbitMqManagement(bus.management);
  await brokerStep(`create broker user ${user}`, async () => {
    const isNew = (await api.getUser(user)) === undefined;
    await login(api);
    if (isNew) await api.setTopicPermissions(bus.vhost, user, PUBSUB_WRITES_PENDING);
    await api.setPermissions(bus.vhost, user, agentPermissions(bus.instanceName, identity));
  });
}

/**
 * Create (or give a new password to) broker user `<instance>.<identity>` with VOLTTRON's default
 * permissions on the platform's vhost, and store the agent's AMQP URL in its rmq.json.
 */
export async function createAgentBrokerUser(bus: RmqBus, vipHome: string, identity: string): Promise<CreatedBrokerUser> {
  checkBrokerIdentity(bus.instanceName, identity);
  const user = `${bus.instanceName}.${identity}`;
  const password = randomBytes(18).toString('base64url');
  await grantAgentUser(bus, identity, (api) => api.ensureUser(user, password));
  const broker = new URL(bus.url);
  const url = `${broker.protocol}//${encodeURIComponent(user)}:${encodeURIComponent(password)}@${broker.host}`;
  const shared = bus.sharedLogin === true;
  const file: AgentRmqFile = {
    url,
    vhost: bus.vhost,
    instanceName: bus.instanceName,
    identity,
    user,
    ...(shared ? { senderProof: 'optional' as const } : {}),
    ...(bus.failoverUrls !== undefined ? { failoverUrls: [...bus.failoverUrls] } : {}),
  };
  const path = await writeAgentFiles(vipHome, file, {});
  return { user, vhost: bus.vhost, instanceName: bus.instanceName, identity, path, ...(shared ? { sharedLogin: true as const } : {}) };
}

/**
 * Write rmq.json and any `extra` files (path -> text) of the agent's keystore directory, each 0600
 * and atomically (@vip/auth `writeFileAtomic`; the directory 0700). Returns the rmq.json path.
 */
export async function writeAgentFiles(vipHome: string, file: AgentRmqFile, extra: Readonly<Record<string, string>>): Promise<string> {
  const path = agentRmqPath(vipHome, file.identity);
  try {
    const entries = [...Object.entries(extra), [path, `${JSON.stringify(AgentRmqFileSchema.parse(file), null, 2)}\n`] as const];
    for (const [target, text] of entries) await writeFileAtomic(target, text, { mode: 0o600, dirMode: 0o700 });
  } catch (err) {
    throw new CliError(
      `broker user ${file.user} created, but ${path} could not be written (${(err as Error).message}); run the command again`,
      EXIT.ERROR,
      { cause: err },
    );
  }
  return path;
}

/** Delete the agent's broker user (named by its rmq.json, else `<instance>.<identity>`), the file and its certificate files. */
export async function removeAgentBrokerUser(bus: RmqBus, vipHome: string, identity: string): Promise<{ user: string; hadFile: boolean }> {
  checkBrokerIdentity(bus.instanceName, identity);
  const recorded = await readAgentRmqFile(vipHome, identity);
  const user = recorded?.user ?? `${bus.instanceName}.${identity}`;
  await brokerStep(`delete broker user ${user}`, () => new RabbitMqManagement(bus.management).deleteUser(user));
  if (recorded) await rm(agentRmqPath(vipHome, identity), { force: true });
  const certs = agentCertPaths(vipHome, identity);
  await rm(certs.cert, { force: true });
  await rm(certs.key, { force: true });
  return { user, hadFile: recorded !== undefined };
}

/** A management failure as one line: unreachable API -> exit 3, anything else -> exit 1. */
async function brokerStep(what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (!(err instanceof RmqSetupError)) throw err;
    throw new CliError(`cannot ${what}: ${err.message}`, err.missing === 'plugin' ? EXIT.UNREACHABLE : EXIT.ERROR, { cause: err });
  }
}

/**
 * The line telling an operator how the agent connects: connectRmqAgent({ identity }) reads the
 * rmq.json just written (URL and password, or the certificate files; senderProof on a shared
 * login). Credentials stay in the file.
 */
export function connectHint(created: CreatedBrokerUser): string {
  return (
    `connectRmqAgent({ identity: ${JSON.stringify(created.identity)} }) from @vip/agent/rmq, which reads ${created.path} ` +
    '(another home: its vipHome option or VIP_HOME); publishes resolve 1 as on VOLTTRON: this broker user has no management login' +
    (created.sharedLogin ? '; the platform runs with --rmq-shared-login, where no sender is proven' : '')
  );
}
