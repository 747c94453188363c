import { generateKeyPair } from '@vip/protocol';
import { AuthFile, authFilePaths, KeyStore, PendingAuthStore, type AuthEntry } from '@vip/auth';
import { jsonObjectArg, type CliOptions } from '../args.js';
import {
  connectHint,
  createAgentBrokerUser,
  readAgentRmqFile,
  removeAgentBrokerUser,
  type CreatedBrokerUser,
} from '../agent-broker-user.js';
import { createAgentCertUser, usesCertificateLogin } from '../agent-cert-user.js';
import { vipHomeOf } from '../connect.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { HomeConfig } from '../home-config.js';
import { emit, table, type CliIo } from '../output.js';
import { managementFromUrl, resolvePlatformBus, type RmqPlatformBus } from '../platform-bus.js';

/** `keys generate`: a new CURVE key pair (nothing written). */
export function keysGenerateCommand(o: CliOptions, io: CliIo): void {
  const pair = generateKeyPair();
  emit(io, o.json, pair, () =>
    table([
      ['public', pair.public],
      ['secret', pair.secret],
    ]),
  );
}

/** `keys show [--identity ID]`: the platform's (or an agent's) public key. */
export async function keysShowCommand(o: CliOptions, io: CliIo): Promise<void> {
  const home = vipHomeOf(o, io.env);
  const store = o.identity ? KeyStore.agent(home, o.identity) : KeyStore.platform(home);
  const pair = await store.load();
  if (!pair) throw new CliError(`no keystore at ${store.path}`, EXIT.ERROR);
  emit(io, o.json, { public: pair.public, path: store.path }, () => pair.public);
}

/** $VIP_HOME/auth.json (the platform reloads it) with its pending list, for one auth command. */
async function withAuthFile<T>(o: CliOptions, io: CliIo, use: (file: AuthFile, home: string) => Promise<T>): Promise<T> {
  const home = vipHomeOf(o, io.env);
  const paths = authFilePaths(home);
  const pending = new PendingAuthStore({ path: paths.pendingFile });
  try {
    return await use(new AuthFile({ path: paths.authFile, pending }), home);
  } finally {
    await pending.close();
  }
}

/** `auth list`: allow and deny entries, and the pending (refused) keys. */
export function authListCommand(o: CliOptions, io: CliIo): Promise<void> {
  return withAuthFile(o, io, async (file) => {
    const list = await file.list();
    const waiting = await file.listPending();
    emit(io, o.json, { ...list, pending: waiting }, () =>
      describeAuth(
        list.allow,
        list.deny,
        waiting.map((p) => `${p.user_id}  ${p.mechanism} ${p.credentials} from ${p.address} (${p.retries} tries)`),
      ),
    );
  });
}

/**
 * `auth add --credentials KEY | --identity I [...]`. On RabbitMQ an --identity also gets its own
 * broker user first (nothing is written to auth.json when the broker refuses); the CURVE entry
 * stays: auth.json still gives the agent its capabilities there (user <identity> counts as
 * <instance>.<identity>).
 */
export function authAddCommand(o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  if (!o.credentials && !o.identity) {
    throw new CliError('auth add needs --credentials KEY or --identity NAME (vipctl auth add --help)', EXIT.USAGE);
  }
  return withAuthFile(o, io, async (file, home) => {
    const bus = o.identity && !o.deny ? await resolvePlatformBus(o, home, config) : undefined;
    // an EXTERNAL platform: the agent gets a client certificate (CN <instance>.<identity>), not a password
    const broker =
      bus === undefined || bus.bus !== 'rmq'
        ? undefined
        : usesCertificateLogin(bus)
          ? await createAgentCertUser(bus, home, o.identity as string, o.days)
          : await createAgentBrokerUser(bus, home, o.identity as string);
    // Without --credentials, admit the agent's own key pair (keystores/<identity>/keystore.json,
    // created if absent) as user <identity>, as VOLTTRON does when it installs an agent.
    const credentials = o.credentials ?? (await KeyStore.agent(home, o.identity as string).loadOrCreate()).public;
    const userId = o['user-id'] ?? (o.credentials ? undefined : o.identity);
    const entry = await file.add(
      {
        credentials,
        ...(userId ? { user_id: userId } : {}),
        ...(o.identity ? { identity: o.identity } : {}),
        ...(o.capabilities !== undefined ? { capabilities: jsonObjectArg('capabilities', o.capabilities) as never } : {}),
        ...(o.comments !== undefined ? { comments: o.comments } : {}),
      },
      o.deny ? 'deny' : 'allow',
    );
    const added = `added ${o.deny ? 'deny' : 'allow'} entry for user ${entry.user_id}`;
    emit(io, o.json, broker ? { ...entry, broker } : entry, () => (broker ? `${added}\n${describeBrokerUser(broker)}` : added));
  });
}

/** `auth remove <user-id> | --index N [--deny] | --identity I`. */
export function authRemoveCommand(userId: string | undefined, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const given = [userId !== undefined, o.index !== undefined, o.identity !== undefined].filter(Boolean).length;
  if (given !== 1)
    throw new CliError('auth remove takes one of: <user-id>, --index N, --identity NAME (vipctl auth remove --help)', EXIT.USAGE);
  return withAuthFile(o, io, async (file, home) => {
    if (o.identity !== undefined) return removeIdentity(file, o.identity, home, o, io, config);
    const entry = await file.remove(o.index !== undefined ? { index: o.index } : { userId: userId! }, o.deny ? 'deny' : 'allow');
    emit(io, o.json, entry, () => `removed entry for user ${entry.user_id}`);
  });
}

/** `auth approve|deny <user-id>`: a pending (refused) key into the allow or deny list. */
export function authMoveCommand(op: 'approve' | 'deny', userId: string, o: CliOptions, io: CliIo): Promise<void> {
  return withAuthFile(o, io, async (file) => {
    const entry = op === 'approve' ? await file.approve(userId) : await file.deny(userId);
    emit(io, o.json, entry, () => `${op === 'approve' ? 'approved' : 'denied'} ${entry.user_id} (${(entry.credentials ?? []).join(',')})`);
  });
}

function describeBrokerUser(b: CreatedBrokerUser): string {
  const c = b.certificate;
  if (c) {
    return [
      `created broker user ${b.user} on vhost ${b.vhost} (certificate login only: SASL EXTERNAL) with VOLTTRON's agent permissions`,
      `issued its client certificate CN=${b.user} (issuer ${c.issuer}, valid until ${c.notAfter}): ${c.cert}, key ${c.key} (0600); the link is in ${b.path}`,
      `the agent connects with ${connectHint(b)}`,
    ].join('\n');
  }
  return [
    `created broker user ${b.user} on vhost ${b.vhost} with VOLTTRON's agent permissions; its AMQP URL and password are in ${b.path} (0600)`,
    `the agent connects with ${connectHint(b)}`,
  ].join('\n');
}

/**
 * `auth remove --identity I`: its broker user (RabbitMQ) first, then its allow entry. The broker
 * user is removed through the management API, which needs no running platform: on a home whose
 * RabbitMQ platform is stopped (its record, or the agent's rmq.json, says so) the user goes too.
 * When the API refuses or does not answer, nothing is removed and the line says what to pass.
 */
async function removeIdentity(file: AuthFile, identity: string, home: string, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const bus = await resolvePlatformBus(o, home, config);
  const rmq = bus.bus === 'rmq' ? bus : await busOfAgentFile(home, identity, o);
  let broker: Awaited<ReturnType<typeof removeAgentBrokerUser>> | undefined;
  if (rmq) {
    try {
      broker = await removeAgentBrokerUser(rmq, home, identity);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      throw new CliError(
        `${err.message}; nothing was removed. Give the management API's administrator with --rmq-management-url http://user:password@host:15672, ` +
          `or remove only the allow entry: vipctl auth remove ${identity}`,
        err.exitCode,
        { cause: err },
      );
    }
  }
  const { allow } = await file.list();
  const index = allow.findIndex((e) => e.identity === identity || (e.identity === undefined && e.user_id === identity));
  const entry = index >= 0 ? await file.remove({ index }) : undefined;
  if (!entry && !broker)
    throw new CliError(
      `no allow entry for identity ${JSON.stringify(identity)} (and no RabbitMQ platform: --message-bus rmq?)`,
      EXIT.ERROR,
    );
  const lines = [
    entry ? `removed entry for user ${entry.user_id}` : `no allow entry for identity ${identity}`,
    ...(broker ? [`deleted broker user ${broker.user}${broker.hadFile ? ' and its rmq.json' : ''}`] : []),
  ];
  emit(io, o.json, { ...(entry ? { entry } : {}), ...(broker ? { brokerUser: broker.user } : {}) }, () => lines.join('\n'));
}

/**
 * The broker of an agent that has an rmq.json on a home where no RabbitMQ platform is known (its
 * record gone): the file names broker, vhost and instance; the management API is
 * --rmq-management-url or the broker host's, as RabbitMQ's administrator guest by default (never
 * the agent's own login: it has no management rights).
 */
async function busOfAgentFile(home: string, identity: string, o: CliOptions): Promise<RmqPlatformBus | undefined> {
  const file = await readAgentRmqFile(home, identity);
  if (!file) return undefined;
  const broker = new URL(file.url);
  return {
    bus: 'rmq',
    url: file.url,
    vhost: file.vhost,
    instanceName: file.instanceName,
    management: managementFromUrl(o['rmq-management-url'], `${broker.protocol}//guest:guest@${broker.host}`),
  };
}

function describeAuth(allow: readonly AuthEntry[], deny: readonly AuthEntry[], waiting: readonly string[]): string {
  const line = (e: AuthEntry, i: number) =>
    `${i}  ${e.user_id}  ${e.mechanism} ${(e.credentials ?? ['*']).join(',')}${e.identity ? `  identity=${e.identity}` : ''}${e.enabled === false ? '  (disabled)' : ''}`;
  return ['allow:', ...allow.map(line), 'deny:', ...deny.map(line), 'pending:', ...(waiting.length > 0 ? waiting : ['(none)'])].join('\n');
}
