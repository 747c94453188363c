import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@vip/auth';
import {
  applyFederation,
  applyShovels,
  federationStatus,
  federationUpstreams,
  parseFederationConfig,
  parseShovelConfig,
  RabbitMqManagement,
  removeFederationUpstream,
  removeShovel,
  shovelSpecs,
  shovelStatus,
  type AppliedLink,
  type FederationConfig,
  type LinkStatus,
  type ShovelConfig,
} from '@vip/rmq/admin';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { CliOptions } from '../args.js';
import { vipHomeOf } from '../connect.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { HomeConfig } from '../home-config.js';
import { emit, table, type CliIo } from '../output.js';
import { resolvePlatformBus, type RmqPlatformBus } from '../platform-bus.js';

/**
 * `vipctl federation|shovel status|add|remove|apply`: links between RabbitMQ platforms, driven by
 * VOLTTRON's files in VIP_HOME (rabbitmq_federation_config.yml, rabbitmq_shovel_config.yml; keys
 * and broker names as VOLTTRON's, see @vip/rmq/admin platform-links.ts). `add` and `remove` edit
 * the file and the broker together; `apply` sets up what the file says (idempotent, changed values
 * reported, never silently); `status` reads the link state from the broker.
 */
export const FEDERATION_FILE = 'rabbitmq_federation_config.yml';
export const SHOVEL_FILE = 'rabbitmq_shovel_config.yml';
type LinkKind = 'federation' | 'shovel';

async function readYaml(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new CliError(`${path} is not YAML: ${(err as Error).message}`, EXIT.USAGE);
  }
}

/** The file holds passwords (vip's `password` key): 0600, as bus.json. */
async function writeYaml(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, stringifyYaml(value), { mode: 0o600 });
}

async function rmqBus(o: CliOptions, config: HomeConfig, home: string): Promise<RmqPlatformBus> {
  const bus = await resolvePlatformBus(o, home, config);
  if (bus.bus !== 'rmq')
    throw new CliError(
      "federation and shovels link RabbitMQ platforms: this home's platform runs on ZeroMQ (pass --message-bus rmq)",
      EXIT.USAGE,
    );
  return bus;
}

function api(bus: RmqPlatformBus): RabbitMqManagement {
  return new RabbitMqManagement(bus.management);
}

function showLinks(io: CliIo, o: CliOptions, rows: readonly LinkStatus[], kind: LinkKind): void {
  emit(io, o.json, rows, () =>
    rows.length === 0
      ? `no ${kind === 'federation' ? 'federation upstreams' : 'shovels'}`
      : table(
          rows.map((r) => [
            r.name,
            `${r.state}${kind === 'shovel' ? ` (${r.kind})` : ''}  ${r.uri}${r.error ? `  error: ${r.error}` : ''}`,
          ]),
        ),
  );
}

function showApplied(io: CliIo, o: CliOptions, rows: readonly AppliedLink[]): void {
  emit(io, o.json, rows, () => (rows.length === 0 ? 'nothing to set up' : table(rows.map((r) => [r.name, r.change]))));
}

export async function linkStatusCommand(kind: LinkKind, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const bus = await rmqBus(o, config, vipHomeOf(o, io.env));
  showLinks(io, o, kind === 'federation' ? await federationStatus(api(bus), bus.vhost) : await shovelStatus(api(bus), bus.vhost), kind);
}

async function applyFile(kind: LinkKind, bus: RmqPlatformBus, home: string): Promise<AppliedLink[]> {
  if (kind === 'federation')
    return applyFederation(api(bus), bus.vhost, parseFederationConfig(await readYaml(join(home, FEDERATION_FILE))));
  return applyShovels(api(bus), bus.vhost, bus.instanceName, parseShovelConfig(await readYaml(join(home, SHOVEL_FILE))));
}

export async function linkApplyCommand(kind: LinkKind, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const home = vipHomeOf(o, io.env);
  showApplied(io, o, await applyFile(kind, await rmqBus(o, config, home), home));
}

/** `<identity>:<topic>` and `<remote instance>:<local identity>:<remote identity>` lists of `shovel add`. */
function splitPairs(values: readonly string[] | undefined, parts: number, flag: string): string[][] {
  return (values ?? []).map((v) => {
    const p = v.split(':');
    if (p.length !== parts || p.some((x) => x === ''))
      throw new CliError(
        `${flag} ${v}: expected ${parts === 2 ? '<identity>:<topic>' : '<remote instance>:<local identity>:<remote identity>'}`,
        EXIT.USAGE,
      );
    return p;
  });
}

/** `add <host>`: write the host's entry (replacing one there) into the file, then set up the whole file. */
export async function linkAddCommand(kind: LinkKind, host: string, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const home = vipHomeOf(o, io.env);
  const bus = await rmqBus(o, config, home);
  const login = {
    port: o.port ?? 5672,
    'virtual-host': o['remote-vhost'] ?? 'volttron',
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.scheme !== undefined ? { scheme: o.scheme } : {}),
  };
  if (kind === 'federation') {
    const path = join(home, FEDERATION_FILE);
    const raw = (await readYaml(path)) as Record<string, unknown>;
    const file: FederationConfig = parseFederationConfig(raw);
    const next = {
      ...raw,
      'federation-upstream': { ...file['federation-upstream'], [host]: { ...login, 'federation-user': o.user ?? 'guest' } },
    };
    parseFederationConfig(next);
    await writeYaml(path, next);
  } else {
    const path = join(home, SHOVEL_FILE);
    const raw = (await readYaml(path)) as Record<string, unknown>;
    const file: ShovelConfig = parseShovelConfig(raw);
    const pubsub: Record<string, string[]> = {};
    for (const [identity, topic] of splitPairs(o.topic, 2, '--topic')) (pubsub[identity!] ??= []).push(topic!);
    const rpc: Record<string, [string, string][]> = {};
    for (const [instance, local, remote] of splitPairs(o.rpc, 3, '--rpc')) (rpc[instance!] ??= []).push([local!, remote!]);
    if (Object.keys(pubsub).length === 0 && Object.keys(rpc).length === 0)
      throw new CliError('shovel add needs --topic and/or --rpc (what to move)', EXIT.USAGE);
    const next = { ...raw, shovel: { ...file.shovel, [host]: { ...login, 'shovel-user': o.user ?? 'guest', pubsub, rpc } } };
    parseShovelConfig(next);
    await writeYaml(path, next);
  }
  showApplied(io, o, await applyFile(kind, bus, home));
}

/** `remove <host>`: the host's links leave the broker and its entry the file. */
export async function linkRemoveCommand(kind: LinkKind, host: string, o: CliOptions, io: CliIo, config: HomeConfig): Promise<void> {
  const home = vipHomeOf(o, io.env);
  const bus = await rmqBus(o, config, home);
  const path = join(home, kind === 'federation' ? FEDERATION_FILE : SHOVEL_FILE);
  const raw = (await readYaml(path)) as Record<string, unknown>;
  const removed: string[] = [];
  if (kind === 'federation') {
    const file = parseFederationConfig(raw);
    const entry = file['federation-upstream'][host];
    if (!entry) throw new CliError(`no federation upstream for host ${host} in ${path}`, EXIT.ERROR);
    const [upstream] = federationUpstreams({ ...file, 'federation-upstream': { [host]: entry } });
    if (await removeFederationUpstream(api(bus), bus.vhost, upstream!.name)) removed.push('volttron-federation');
    removed.unshift(upstream!.name);
    const { [host]: _gone, ...rest } = file['federation-upstream'];
    await writeYaml(path, { ...raw, 'federation-upstream': rest });
  } else {
    const file = parseShovelConfig(raw);
    const entry = file.shovel[host];
    if (!entry) throw new CliError(`no shovel for host ${host} in ${path}`, EXIT.ERROR);
    for (const s of shovelSpecs({ ...file, shovel: { [host]: entry } }, bus.instanceName, '')) {
      await removeShovel(api(bus), bus.vhost, s.name);
      removed.push(s.name);
    }
    const { [host]: _gone, ...rest } = file.shovel;
    await writeYaml(path, { ...raw, shovel: rest });
  }
  emit(io, o.json, { removed }, () => `removed ${removed.join(', ')}`);
}
