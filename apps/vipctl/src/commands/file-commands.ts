import { generateKeyPair } from '@vip/protocol';
import { AuthFile, authFilePaths, KeyStore, PendingAuthStore, type AuthEntry } from '@vip/zmq';
import { jsonObjectArg, type ParsedArgs } from '../args.js';
import { connectHint, createAgentBrokerUser, removeAgentBrokerUser, type CreatedBrokerUser } from '../agent-broker-user.js';
import { createAgentCertUser, usesCertificateLogin } from '../agent-cert-user.js';
import { vipHomeOf } from '../connect.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, table, type CliIo } from '../output.js';
import { resolvePlatformBus } from '../platform-bus.js';

/** `keys generate|show`: no platform connection needed. */
export async function runKeysCommand(args: ParsedArgs, io: CliIo): Promise<void> {
  const op = args.positionals[1];
  const json = args.options.json;
  if (op === 'generate') {
    const pair = generateKeyPair();
    emit(io, json, pair, () => table([['public', pair.public], ['secret', pair.secret]]));
    return;
  }
  if (op === 'show') {
    const home = vipHomeOf(args.options, io.env);
    const identity = args.options.identity;
    const store = identity ? KeyStore.agent(home, identity) : KeyStore.platform(home);
    const pair = await store.load();
    if (!pair) throw new CliError(`no keystore at ${store.path}`, EXIT.ERROR);
    emit(io, json, { public: pair.public, path: store.path }, () => pair.public);
    return;
  }
  throw new CliError('usage: vipctl keys generate | vipctl keys show [--identity ID]', EXIT.USAGE);
}

/** `auth list|add|remove|approve|deny`: edits $VIP_HOME/auth.json (the platform reloads it). */
export async function runAuthCommand(args: ParsedArgs, io: CliIo): Promise<void> {
  const [, op, target] = args.positionals;
  const o = args.options;
  const home = vipHomeOf(o, io.env);
  const paths = authFilePaths(home);
  const pending = new PendingAuthStore({ path: paths.pendingFile });
  const file = new AuthFile({ path: paths.authFile, pending });
  try {
    switch (op) {
      case 'list': {
        const list = await file.list();
        const waiting = await file.listPending();
        emit(io, o.json, { ...list, pending: waiting }, () => describeAuth(list.allow, list.deny, waiting.map((p) => `${p.user_id}  ${p.mechanism} ${p.credentials} from ${p.address} (${p.retries} tries)`)));
        return;
      }
      case 'add': {
        if (!o.credentials && !o.identity) {
          throw new CliError('usage: vipctl auth add (--credentials KEY | --identity I) [--user-id U] [--identity I] [--capabilities JSON] [--comments TEXT] [--deny]', EXIT.USAGE);
        }
        // On RabbitMQ an --identity also gets its own broker user first (nothing is written to
        // auth.json when the broker refuses); the CURVE entry stays: auth.json still gives the
        // agent its capabilities there (user <identity> counts as <instance>.<identity>).
        const bus = o.identity && !o.deny ? await resolvePlatformBus(o, home) : undefined;
        // an EXTERNAL platform: the agent gets a client certificate (CN <instance>.<identity>), not a password
        const broker = bus === undefined || bus.bus !== 'rmq' ? undefined
          : usesCertificateLogin(bus) ? await createAgentCertUser(bus, home, o.identity as string, o.days)
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
        return;
      }
      case 'remove': {
        if (o.index === undefined && !target && o.identity) {
          await removeIdentity(file, o.identity, await resolvePlatformBus(o, home), home, o.json, io);
          return;
        }
        const ref = o.index !== undefined ? { index: o.index } : target ? { userId: target } : undefined;
        if (!ref) throw new CliError('usage: vipctl auth remove <user-id> | --index N [--deny] | --identity I', EXIT.USAGE);
        const entry = await file.remove(ref, o.deny ? 'deny' : 'allow');
        emit(io, o.json, entry, () => `removed entry for user ${entry.user_id}`);
        return;
      }
      case 'approve':
      case 'deny': {
        if (!target) throw new CliError(`usage: vipctl auth ${op} <user-id>  (see the pending list of vipctl auth list)`, EXIT.USAGE);
        const entry = op === 'approve' ? await file.approve(target) : await file.deny(target);
        emit(io, o.json, entry, () => `${op === 'approve' ? 'approved' : 'denied'} ${entry.user_id} (${(entry.credentials ?? []).join(',')})`);
        return;
      }
      default:
        throw new CliError('usage: vipctl auth list|add|remove|approve|deny', EXIT.USAGE);
    }
  } finally {
    await pending.close();
  }
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
 * `auth remove --identity I`: the allow entry of that identity (made by `auth add --identity`)
 * and, on RabbitMQ, its broker user and rmq.json. Fails when there was nothing to remove.
 */
async function removeIdentity(file: AuthFile, identity: string, bus: Awaited<ReturnType<typeof resolvePlatformBus>>, home: string, json: boolean, io: CliIo): Promise<void> {
  const { allow } = await file.list();
  const index = allow.findIndex((e) => e.identity === identity || (e.identity === undefined && e.user_id === identity));
  const entry = index >= 0 ? await file.remove({ index }) : undefined;
  const broker = bus.bus === 'rmq' ? await removeAgentBrokerUser(bus, home, identity) : undefined;
  if (!entry && !broker) throw new CliError(`no allow entry for identity ${JSON.stringify(identity)} (and no RabbitMQ platform: --message-bus rmq?)`, EXIT.ERROR);
  const lines = [
    entry ? `removed entry for user ${entry.user_id}` : `no allow entry for identity ${identity}`,
    ...(broker ? [`deleted broker user ${broker.user}${broker.hadFile ? ' and its rmq.json' : ''}`] : []),
  ];
  emit(io, json, { ...(entry ? { entry } : {}), ...(broker ? { brokerUser: broker.user } : {}) }, () => lines.join('\n'));
}

function describeAuth(allow: readonly AuthEntry[], deny: readonly AuthEntry[], waiting: readonly string[]): string {
  const line = (e: AuthEntry, i: number) => `${i}  ${e.user_id}  ${e.mechanism} ${(e.credentials ?? ['*']).join(',')}${e.identity ? `  identity=${e.identity}` : ''}${e.enabled === false ? '  (disabled)' : ''}`;
  return [
    'allow:', ...allow.map(line),
    'deny:', ...deny.map(line),
    'pending:', ...(waiting.length > 0 ? waiting : ['(none)']),
  ].join('\n');
}
