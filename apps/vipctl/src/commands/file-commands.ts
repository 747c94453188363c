import { generateKeyPair } from '@vip/protocol';
import { AuthFile, authFilePaths, KeyStore, PendingAuthStore, type AuthEntry } from '@vip/zmq';
import { jsonObjectArg, type ParsedArgs } from '../args.js';
import { vipHomeOf } from '../connect.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, table, type CliIo } from '../output.js';

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
        emit(io, o.json, entry, () => `added ${o.deny ? 'deny' : 'allow'} entry for user ${entry.user_id}`);
        return;
      }
      case 'remove': {
        const ref = o.index !== undefined ? { index: o.index } : target ? { userId: target } : undefined;
        if (!ref) throw new CliError('usage: vipctl auth remove <user-id> | --index N [--deny]', EXIT.USAGE);
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

function describeAuth(allow: readonly AuthEntry[], deny: readonly AuthEntry[], waiting: readonly string[]): string {
  const line = (e: AuthEntry, i: number) => `${i}  ${e.user_id}  ${e.mechanism} ${(e.credentials ?? ['*']).join(',')}${e.identity ? `  identity=${e.identity}` : ''}${e.enabled === false ? '  (disabled)' : ''}`;
  return [
    'allow:', ...allow.map(line),
    'deny:', ...deny.map(line),
    'pending:', ...(waiting.length > 0 ? waiting : ['(none)']),
  ].join('\n');
}
