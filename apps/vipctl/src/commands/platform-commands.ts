import { closestMatch, QUERY_PROPERTIES, VIP_VERSION_PROPERTY } from '@vip/protocol';
import type { Agent } from '@vip/agent';
import { jsonArg, jsonObjectArg, type CliOptions } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, table, type CliIo } from '../output.js';

const STATUS_PROPERTIES = [
  'instance-name',
  'platform-version',
  'vip-version',
  'message-bus',
  'serverkey',
  'addresses',
  'local_address',
] as const;

/** The properties a vip platform answers (VOLTTRON's, and vip's counters); `query` of another that answers nothing is an error. */
export const KNOWN_QUERY_PROPERTIES: readonly string[] = [...QUERY_PROPERTIES, VIP_VERSION_PROPERTY, 'vip-router-stats'];

/**
 * The peers connected besides this vipctl: `status` counts them and `peers` lists them, so both
 * tell the same number (the router's peerlist includes the asking connection itself).
 */
async function otherPeers(agent: Agent): Promise<string[]> {
  return (await agent.peerlist.list()).filter((p) => p !== agent.identity).sort();
}

/** `status`: instance, version, bus, server key, addresses and the number of peers besides vipctl. */
export async function statusCommand(agent: Agent, o: CliOptions, io: CliIo): Promise<void> {
  const values = await Promise.all(STATUS_PROPERTIES.map((p) => agent.query.query(p)));
  const status: Record<string, unknown> = Object.fromEntries(STATUS_PROPERTIES.map((p, i) => [p, values[i]]));
  status.peers = (await otherPeers(agent)).length;
  emit(io, o.json, status, () => table(Object.entries(status).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));
}

/** `peers`: the connected identities besides vipctl, sorted. */
export async function peersCommand(agent: Agent, o: CliOptions, io: CliIo): Promise<void> {
  const peers = await otherPeers(agent);
  emit(io, o.json, peers, () => peers.join('\n'));
}

/** `ping [peer]`: round trip to the router ('') or a peer. */
export async function pingCommand(agent: Agent, peer: string, o: CliOptions, io: CliIo): Promise<void> {
  const started = process.hrtime.bigint();
  await agent.ping.ping(peer, ['vipctl']);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  emit(io, o.json, { peer, ms }, () => `pong from ${peer === '' ? 'the router' : peer} in ${ms.toFixed(2)} ms`);
}

/**
 * `query <property>`. The router answers nothing (VOLTTRON's None) both for a property it does
 * not have and for a known one without a value (`volttron-central-address`): a known property
 * prints `(none)`, any other is an error naming the nearest known property (exit 1).
 */
export async function queryCommand(agent: Agent, property: string, o: CliOptions, io: CliIo): Promise<void> {
  const value = await agent.query.query(property);
  if (value === null && !KNOWN_QUERY_PROPERTIES.includes(property)) {
    const near = closestMatch(property, KNOWN_QUERY_PROPERTIES);
    throw new CliError(
      `the platform has no property ${JSON.stringify(property)}${near !== undefined ? ` (did you mean ${near}?)` : ''}; ` +
        `known: ${KNOWN_QUERY_PROPERTIES.join(', ')}`,
      EXIT.ERROR,
    );
  }
  emit(io, o.json, value, () => (value === null ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value)));
}

/** `rpc <peer> <method> [args...]`: each argument is JSON, else a string; `--kwargs` a JSON object. */
export async function rpcCallCommand(
  agent: Agent,
  peer: string,
  method: string,
  args: readonly string[],
  o: CliOptions,
  io: CliIo,
): Promise<void> {
  const kw = o.kwargs !== undefined ? jsonObjectArg('kwargs', o.kwargs) : undefined;
  const result = await agent.rpc.request(peer, method, {
    args: args.map(jsonArg),
    ...(kw ? { kwargs: kw } : {}),
    ...(o.platform !== undefined ? { externalPlatform: o.platform } : {}),
  });
  emit(io, o.json, result, () => (typeof result === 'string' ? result : JSON.stringify(result, null, 2)));
}

/** `rpc inspect <peer> [method]`: exported methods, or one method's signature. */
export async function rpcInspectCommand(agent: Agent, peer: string, method: string | undefined, o: CliOptions, io: CliIo): Promise<void> {
  const info = await agent.rpc.inspect(peer, method);
  emit(io, o.json, info, () => JSON.stringify(info, null, 2));
}

export const STATS_OPS = ['enable', 'get', 'disable', 'counters'] as const;
export type StatsOp = (typeof STATS_OPS)[number];

/** `stats enable|get|disable|counters` through the control service. */
export async function statsCommand(agent: Agent, op: StatsOp, o: CliOptions, io: CliIo): Promise<void> {
  const result = await agent.rpc.call('control', `stats.${op}`);
  if (op === 'get' || op === 'counters') emit(io, o.json, result, () => JSON.stringify(result, null, 2));
  else emit(io, o.json, { ok: true, stats: op }, () => `router statistics ${op}d`);
}

/** One remote platform as `platforms` shows it (the routing service's link table, in `vip-router-stats`). */
interface PlatformLinkView {
  readonly instance: string;
  readonly state: string;
  readonly since: number;
  readonly handshake: string;
  readonly vipAddress?: string;
  readonly counters?: Readonly<Record<string, number>>;
}

/** `platforms`: the other platforms this one links to: state, since when, handshake, counters. */
export async function platformsCommand(agent: Agent, o: CliOptions, io: CliIo): Promise<void> {
  const value = await agent.query.query('vip-router-stats');
  const stats = (typeof value === 'string' ? JSON.parse(value) : value) as { platforms?: readonly PlatformLinkView[] } | null;
  const links = stats?.platforms ?? [];
  emit(io, o.json, links, () =>
    links.length === 0
      ? '(no linked platforms: key discovery lists none, or multi-platform is off)'
      : columns([
          ['instance', 'state', 'since', 'handshake', 'sent', 'received', 'refused', 'undeliverable'],
          ...links.map((l) => [
            l.instance,
            l.state,
            new Date(l.since).toISOString(),
            l.handshake,
            String(l.counters?.sent ?? 0),
            String(l.counters?.received ?? 0),
            String(l.counters?.refused ?? 0),
            String(l.counters?.undeliverablePublishes ?? 0),
          ]),
        ]),
  );
}

/** Rows as left-aligned columns. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
