import type { Agent } from '@vip/agent';
import { jsonArg, type ParsedArgs } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, type CliIo } from '../output.js';

/** `publish <topic> [json message] [--bus B]`: prints the subscriber count the router reports. */
export async function publishCommand(agent: Agent, args: ParsedArgs, io: CliIo): Promise<void> {
  const [, topic, message] = args.positionals;
  if (topic === undefined) throw new CliError('usage: vipctl publish <topic> [json message] [--bus BUS]', EXIT.USAGE);
  const pubsub = requirePubSub(agent);
  const subscribers = await pubsub.publish(topic, {
    ...(message !== undefined ? { message: jsonArg(message) } : {}),
    ...(args.options.bus !== undefined ? { bus: args.options.bus } : {}),
  });
  emit(io, args.options.json, { topic, subscribers }, () => `published ${topic} to ${subscribers} subscriber${subscribers === 1 ? '' : 's'}`);
}

/**
 * `subscribe <prefix> [--count N] [--bus B]`: prints each message (one line; JSON with --json)
 * until N arrived, --timeout seconds passed (exit 4 when N was asked and not reached) or SIGINT.
 */
export async function subscribeCommand(agent: Agent, args: ParsedArgs, io: CliIo): Promise<void> {
  const [, prefix] = args.positionals;
  if (prefix === undefined) throw new CliError('usage: vipctl subscribe <prefix> [--count N] [--bus BUS] [-t SECONDS]', EXIT.USAGE);
  const pubsub = requirePubSub(agent);
  const { count, json, timeout } = args.options;
  let got = 0;
  let finish: (reached: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  await pubsub.subscribe(prefix, (_peer, sender, bus, topic, headers, message) => {
    if (count !== undefined && got >= count) return;
    got += 1;
    emit(io, json, { topic, sender, bus, headers, message }, () => `${topic}  ${sender}  ${JSON.stringify(message)}`);
    if (count !== undefined && got >= count) finish(true);
  }, args.options.bus !== undefined ? { bus: args.options.bus } : {});
  if (!json) io.err(`subscribed to ${JSON.stringify(prefix)}${count !== undefined ? `, waiting for ${count} message(s)` : ''}`);
  const timer = setTimeout(() => finish(false), timeout * 1000);
  const onSigint = () => finish(true);
  process.once('SIGINT', onSigint);
  try {
    const reached = await done;
    if (!reached && count !== undefined) {
      throw new CliError(`got ${got} of ${count} message(s) on ${JSON.stringify(prefix)} within ${timeout} s`, EXIT.TIMEOUT);
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSigint);
  }
}

function requirePubSub(agent: Agent): NonNullable<Agent['pubsub']> {
  const pubsub = agent.pubsub;
  if (!pubsub) throw new CliError('this agent has no pubsub subsystem', EXIT.ERROR);
  return pubsub;
}
