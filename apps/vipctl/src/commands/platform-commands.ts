import type { Agent } from '@vip/agent';
import { jsonArg, jsonObjectArg, type ParsedArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, table, type CliIo } from '../output.js';

const STATUS_PROPERTIES = ['instance-name', 'platform-version', 'message-bus', 'serverkey', 'addresses', 'local_address'] as const;

/** Commands that talk to a running platform through a connected agent. */
export async function runPlatformCommand(agent: Agent, args: ParsedArgs, io: CliIo): Promise<void> {
  const [command, ...rest] = args.positionals;
  const json = args.options.json;
  switch (command) {
    case 'status': {
      const values = await Promise.all(STATUS_PROPERTIES.map((p) => agent.query.query(p)));
      const peers = await agent.peerlist.list();
      const status: Record<string, unknown> = Object.fromEntries(STATUS_PROPERTIES.map((p, i) => [p, values[i]]));
      status.peers = peers.length;
      emit(io, json, status, () => table(Object.entries(status).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));
      return;
    }
    case 'peers': {
      const peers = (await agent.peerlist.list()).filter((p) => p !== agent.identity).sort();
      emit(io, json, peers, () => peers.join('\n'));
      return;
    }
    case 'ping': {
      const peer = rest[0] ?? '';
      const started = process.hrtime.bigint();
      await agent.ping.ping(peer, ['vipctl']);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      emit(io, json, { peer, ms }, () => `pong from ${peer === '' ? 'the router' : peer} in ${ms.toFixed(2)} ms`);
      return;
    }
    case 'query': {
      const property = rest[0];
      if (!property) throw new CliError('usage: vipctl query <property>', EXIT.USAGE);
      const value = await agent.query.query(property);
      emit(io, json, value, () => (value === null ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value)));
      return;
    }
    case 'rpc':
      return rpcCommand(agent, args, io);
    case 'stats':
      return statsCommand(agent, rest[0], json, io);
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}`, EXIT.USAGE);
  }
}

async function rpcCommand(agent: Agent, args: ParsedArgs, io: CliIo): Promise<void> {
  const [, first, ...rest] = args.positionals;
  const json = args.options.json;
  if (first === 'inspect') {
    const [peer, method] = rest;
    if (!peer) throw new CliError('usage: vipctl rpc inspect <peer> [method]', EXIT.USAGE);
    const info = await agent.rpc.inspect(peer, method);
    emit(io, json, info, () => JSON.stringify(info, null, 2));
    return;
  }
  const [method, ...jsonArgs] = rest;
  if (!first || !method) throw new CliError('usage: vipctl rpc <peer> <method> [json args...] [--kwargs JSON]', EXIT.USAGE);
  const kw = args.options.kwargs !== undefined ? jsonObjectArg('kwargs', args.options.kwargs) : undefined;
  const result = await agent.rpc.request(first, method, { args: jsonArgs.map(jsonArg), ...(kw ? { kwargs: kw } : {}) });
  emit(io, json, result, () => (typeof result === 'string' ? result : JSON.stringify(result, null, 2)));
}

async function statsCommand(agent: Agent, op: string | undefined, json: boolean, io: CliIo): Promise<void> {
  if (op !== 'enable' && op !== 'disable' && op !== 'get' && op !== 'counters') {
    throw new CliError('usage: vipctl stats enable|get|disable|counters', EXIT.USAGE);
  }
  const result = await agent.rpc.call('control', `stats.${op}`);
  if (op === 'get' || op === 'counters') emit(io, json, result, () => JSON.stringify(result, null, 2));
  else emit(io, json, { ok: true, stats: op }, () => `router statistics ${op}d`);
}
