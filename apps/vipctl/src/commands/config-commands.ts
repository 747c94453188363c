import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '@vip/agent';
import type { CliOptions } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, type CliIo } from '../output.js';

/** The platform's configuration store service. */
const STORE = 'config.store';
export const CONFIG_TYPES = ['json', 'raw', 'csv'] as const;
type ConfigType = (typeof CONFIG_TYPES)[number];

/** `--type`, else `--raw`/`--csv`, else json (vctl's default). */
export function configTypeOf(o: CliOptions): ConfigType {
  if (o.type !== undefined) return o.type;
  if (o.raw) return 'raw';
  if (o.csv) return 'csv';
  return 'json';
}

/** Text of a file, or of stdin for `-`. */
async function readInput(path: string): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path === '-' ? 'stdin' : path}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

/** `config store <identity> <name> <file|->`: store (or replace) a config; the agent hears it as NEW or UPDATE. */
export async function configStoreCommand(
  agent: Agent,
  identity: string,
  name: string,
  file: string,
  o: CliOptions,
  io: CliIo,
): Promise<void> {
  const type = configTypeOf(o);
  const text = await readInput(file);
  await agent.rpc.call(STORE, 'manage_store', identity, name, text, type);
  emit(io, o.json, { identity, config: name, type }, () => `stored ${name} (${type}) for ${identity}`);
}

/** `config get <identity> <name>`: the parsed config as JSON, or with `--raw` the text as stored. */
export async function configGetCommand(agent: Agent, identity: string, name: string, o: CliOptions, io: CliIo): Promise<void> {
  const value = await agent.rpc.call(STORE, 'manage_get', identity, name, o.raw);
  emit(io, o.json, value, () => (typeof value === 'string' ? value : JSON.stringify(value, null, 2)));
}

/** `config list [identity]`: the identities with a store, or one store's config names. */
export async function configListCommand(agent: Agent, identity: string | undefined, o: CliOptions, io: CliIo): Promise<void> {
  const names = (
    identity === undefined
      ? await agent.rpc.call(STORE, 'manage_list_stores')
      : await agent.rpc.call(STORE, 'manage_list_configs', identity)
  ) as string[];
  emit(io, o.json, names, () => names.join('\n'));
}

/** `config delete <identity> <name>`, or `--all` for the whole store. */
export async function configDeleteCommand(
  agent: Agent,
  identity: string,
  name: string | undefined,
  o: CliOptions,
  io: CliIo,
): Promise<void> {
  if (o.all === (name !== undefined)) throw new CliError('give a config name, or --all to delete every config of the store', EXIT.USAGE);
  if (name === undefined) await agent.rpc.call(STORE, 'manage_delete_store', identity);
  else await agent.rpc.call(STORE, 'manage_delete_config', identity, name);
  emit(io, o.json, { identity, deleted: name ?? null }, () =>
    name === undefined ? `deleted the store of ${identity}` : `deleted ${name} of ${identity}`,
  );
}

interface Metadata {
  readonly type: string;
  readonly data: string;
}

/**
 * `config edit <identity> <name>`: open the config's text in --editor, $VISUAL, $EDITOR or vi, and
 * store it when the editor exits with status 0 and the text changed. `--new` starts a config that
 * does not exist yet.
 */
export async function configEditCommand(agent: Agent, identity: string, name: string, o: CliOptions, io: CliIo): Promise<void> {
  let current: Metadata | undefined;
  try {
    current = (await agent.rpc.call(STORE, 'manage_get_metadata', identity, name)) as Metadata;
  } catch (err) {
    if (!o.new) throw new CliError(`${identity} has no config ${name} (use --new to create it): ${(err as Error).message}`, EXIT.ERROR);
  }
  if (current && o.new) throw new CliError(`${identity} already has a config ${name}; edit it without --new`, EXIT.USAGE);
  const type = o.type ?? (o.raw ? 'raw' : o.csv ? 'csv' : ((current?.type as ConfigType | undefined) ?? 'json'));
  const before = current?.data ?? (type === 'json' ? '{}\n' : '');
  const dir = await mkdtemp(join(tmpdir(), 'vipctl-config-'));
  try {
    const file = join(dir, `${name.replace(/[^\w.-]+/g, '_')}.${type === 'raw' ? 'txt' : type}`);
    await writeFile(file, before, { mode: 0o600 });
    const editor = o.editor ?? io.env.VISUAL ?? io.env.EDITOR ?? 'vi';
    // the editor setting is a command line (`code --wait`), as git reads it: run by the shell, the file quoted
    const run = spawnSync(`${editor} '${file.replace(/'/g, "'\\''")}'`, { shell: true, stdio: 'inherit', env: io.env });
    if (run.error || run.status !== 0) throw new CliError(`the editor (${editor}) did not finish cleanly; nothing was stored`, EXIT.ERROR);
    const after = await readFile(file, 'utf8');
    if (after === before && type === current?.type) {
      emit(io, o.json, { identity, config: name, changed: false }, () => 'no change; nothing stored');
      return;
    }
    await agent.rpc.call(STORE, 'manage_store', identity, name, after, type);
    emit(io, o.json, { identity, config: name, type, changed: true }, () => `stored ${name} (${type}) for ${identity}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
