import type { Agent } from '@vip/agent';
import { messageArg, type CliOptions } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, type CliIo } from '../output.js';

/** The message argument of `publish`, checked before connecting: JSON unless --raw (args.ts messageArg). */
export function publishBody(message: string | undefined, o: CliOptions): { message?: unknown } {
  return message !== undefined ? { message: messageArg(message, o.raw) } : {};
}

/** `publish <topic> [message] [--bus B] [--raw]`: prints the subscriber count. */
export async function publishCommand(agent: Agent, topic: string, body: { message?: unknown }, o: CliOptions, io: CliIo): Promise<void> {
  const pubsub = requirePubSub(agent);
  const subscribers = await pubsub.publish(topic, { ...body, ...(o.bus !== undefined ? { bus: o.bus } : {}) });
  emit(io, o.json, { topic, subscribers }, () => `published ${topic} to ${subscribers} subscriber${subscribers === 1 ? '' : 's'}`);
}

/**
 * `subscribe <prefix> [--count N] [--bus B]`: prints each message (one line; JSON with --json)
 * until N arrived, --timeout seconds passed (exit 4 when N was asked and not reached) or SIGINT.
 */
export async function subscribeCommand(agent: Agent, prefix: string, o: CliOptions, io: CliIo): Promise<void> {
  const pubsub = requirePubSub(agent);
  const { count, json, timeout } = o;
  let got = 0;
  let finish: (reached: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  await pubsub.subscribe(
    prefix,
    (_peer, sender, bus, topic, headers, message) => {
      if (count !== undefined && got >= count) return;
      got += 1;
      emit(io, json, { topic, sender, bus, headers, message }, () => `${topic}  ${sender}  ${JSON.stringify(message)}`);
      if (count !== undefined && got >= count) finish(true);
    },
    o.bus !== undefined ? { bus: o.bus } : {},
  );
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
