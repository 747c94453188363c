import { isVipError } from '@vip/protocol';
import { RemoteError, RpcError } from '@vip/agent';
import { parseCliArgs, type ParsedArgs } from './args.js';
import { connectToPlatform, exitCodeOf } from './connect.js';
import { runAuthCommand, runKeysCommand } from './commands/file-commands.js';
import { runPlatformCommand } from './commands/platform-commands.js';
import { publishCommand, subscribeCommand } from './commands/pubsub-commands.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';
import { version } from '../package.json';

export const USAGE = `Usage: vipctl <command> [options]

Platform (connects as control.connection.<id>: over ZeroMQ with the platform's keys on the local ipc
address, or over RabbitMQ when the platform runs there; see --message-bus):
  status                         instance, version, bus, server key, addresses, peer count
  peers                          connected identities
  ping [peer]                    round trip to the router or a peer
  query <property>               a router property (serverkey, addresses, platform-version...)
  rpc <peer> <method> [args...]  call a method; each arg is JSON (else a string); --kwargs JSON
  rpc inspect <peer> [method]    exported methods, or one method's signature
  stats enable|get|disable       router message statistics (through the control service)
  stats counters                 always-on counters: drops by reason, pubsub drops, errors sent
  publish <topic> [json]         publish (--bus BUS); prints the subscriber count
  subscribe <prefix>             print messages until --count N arrived, -t SECONDS or Ctrl-C
Files in VIP_HOME (no platform needed):
  keys generate                  a new CURVE key pair
  keys show [--identity ID]      the platform's (or an agent's) public key
  auth list                      allow/deny entries and pending (refused) keys
  auth add --credentials KEY [--user-id U] [--identity I] [--capabilities JSON] [--comments T] [--deny]
  auth add --identity I [...]    the agent's own CURVE key pair (keystores/I), admitted as user I; on a
                                 RabbitMQ platform also broker user <instance>.I (URL in keystores/I/rmq.json);
                                 on an EXTERNAL (certificate) platform instead a client certificate CN=<instance>.I
                                 signed by the platform's --rmq-ca-key (keystores/I/rmq-cert.pem, rmq-key.pem;
                                 --days N, default 365) and a broker user without password
  auth remove <user-id> | --index N [--deny]
  auth remove --identity I       its allow entry; on RabbitMQ also its broker user, rmq.json and certificate
  auth approve|deny <user-id>    move a pending key into the allow/deny list

Options: --version  --json  --address URL  --vip-home PATH  -t/--timeout SECONDS (30)  --connect-timeout SECONDS (5)
Bus: --message-bus zmq|rmq (default: what the running platform recorded in VIP_HOME/run/bus.json, else zmq)
     --rmq-url URL (amqp://guest:guest@127.0.0.1:5672)  --rmq-vhost NAME  --instance-name NAME (vip1)
     --rmq-management-url URL (recorded by the platform, else http://<broker host>:15672)
     amqps: --rmq-ca FILE  --rmq-cert FILE --rmq-key FILE (PEM; default: the platform's, recorded in bus.json)
     --rmq-external (log in by client certificate, SASL EXTERNAL; default: as the platform does)
Exit codes: 0 ok, 1 error, 2 usage, 3 platform unreachable or key refused, 4 timeout`;

const PLATFORM_COMMANDS = new Set(['status', 'peers', 'ping', 'query', 'rpc', 'stats', 'publish', 'subscribe']);

/** Run one vipctl command; returns the exit code (never throws, never prints a stack). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    return fail(io, err, argv.includes('--json'));
  }
  const command = args.positionals[0];
  if (args.options.version) {
    io.out(version);
    return EXIT.OK;
  }
  if (args.options.help || command === undefined || command === 'help') {
    io.out(USAGE);
    return command === undefined && !args.options.help ? EXIT.USAGE : EXIT.OK;
  }
  try {
    if (command === 'keys') await runKeysCommand(args, io);
    else if (command === 'auth') await runAuthCommand(args, io);
    else if (PLATFORM_COMMANDS.has(command)) {
      const agent = await connectToPlatform(args.options, io.env);
      try {
        if (command === 'publish') await publishCommand(agent, args, io);
        else if (command === 'subscribe') await subscribeCommand(agent, args, io);
        else await runPlatformCommand(agent, args, io);
      } finally {
        await agent.close();
      }
    } else throw new CliError(`unknown command ${JSON.stringify(command)} (vipctl --help)`, EXIT.USAGE);
    return EXIT.OK;
  } catch (err) {
    return fail(io, err, args.options.json);
  }
}

function fail(io: CliIo, err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  const message = describe(err);
  if (json) io.err(JSON.stringify({ error: message, code: errorCode(err), exit: code }));
  else io.err(`vipctl: ${message}`);
  return code;
}

function describe(err: unknown): string {
  if (err instanceof RemoteError) return `remote ${err.excType}: ${err.detail}`;
  if (err instanceof RpcError) return `${err.name}: ${err.message}`;
  if (isVipError(err, 'VIP_UNREACHABLE')) return `${err.message} (is the agent running?)`;
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string {
  if (err instanceof CliError) return 'CLI';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
