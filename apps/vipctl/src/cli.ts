import { CommanderError, type Command } from 'commander';
import { isVipError } from '@vip/protocol';
import { RemoteError, RpcError, UnauthorizedError } from '@vip/agent';
import { exitCodeOf } from './connect.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';
import { buildProgram } from './program.js';

/** Help text wraps at the terminal's width, else at this (tests, pipes). */
const DEFAULT_HELP_WIDTH = 100;

/** Run one vipctl command; returns the exit code (never throws, never prints a stack). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  configure(program, io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err, io, argv.includes('--json'));
    return fail(io, err, argv.includes('--json'));
  }
}

/** Every command writes through `io`, throws instead of exiting, and keeps commander's own error text for us to word. */
function configure(cmd: Command, io: CliIo): void {
  cmd
    .exitOverride((err) => {
      throw Object.assign(err, { command: commandPath(cmd) });
    })
    .configureOutput({
      writeOut: (t) => io.out(t.replace(/\n$/, '')),
      writeErr: (t) => io.err(t.replace(/\n$/, '')),
      outputError: () => undefined,
    })
    .configureHelp({ helpWidth: io.columns ?? DEFAULT_HELP_WIDTH, showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);
  for (const sub of cmd.commands) configure(sub, io);
}

/** `auth add` for that command ('' for vipctl itself). */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** commander's outcome: help and version exit 0; every usage problem is one line of ours, exit 2. */
function commanderExit(err: CommanderError, io: CliIo, json: boolean): number {
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return EXIT.OK;
    case 'commander.help': // help shown because no command was given (`vipctl`, `vipctl auth`)
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    default:
      return fail(io, new CliError(usageLine(err), EXIT.USAGE), json);
  }
}

/**
 * commander's message in our words, one line: `unknown command 'stauts' (did you mean status?); see
 * vipctl --help`, `-t, --timeout needs a value`, `unknown option '--count' for status; see vipctl status --help`.
 */
function usageLine(err: CommanderError): string {
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n');
  const suggestion = rest.map((l) => /^\(Did you mean (.+)\?\)$/.exec(l.trim())?.[1]).find((s) => s !== undefined);
  const did = suggestion !== undefined ? ` (did you mean ${suggestion}?)` : '';
  const command = (err as CommanderError & { command?: string }).command ?? '';
  const see = `; see vipctl ${command ? `${command} ` : ''}--help`;
  const missing = /^option '(.+?)(?: <[^>]+>)?' argument missing$/.exec(first);
  if (missing) return `${missing[1]} needs a value`;
  const invalid = /^option '(?:-\w, )?(--[\w-]+)(?: <[^>]+>)?' argument '(.*)' is invalid\. Allowed choices are (.+)\.$/.exec(first);
  if (invalid) return `${invalid[1]}: must be one of ${invalid[3]} (got ${JSON.stringify(invalid[2])})`;
  const badArgument = /^command-argument value '(.*)' is invalid for argument '(.+)'\. Allowed choices are (.+)\.$/.exec(first);
  if (badArgument) return `<${badArgument[2]}> must be one of ${badArgument[3]} (got ${JSON.stringify(badArgument[1])})${see}`;
  if (/^unknown option/.test(first)) return `${first}${command ? ` for ${command}` : ''}${did}${see}`;
  return `${first.replace(/\.$/, '')}${did}${see}`;
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
  if (err instanceof UnauthorizedError) return err.subsystem === 'RPC' ? `remote ${err.excType}: ${err.detail}` : err.message;
  if (err instanceof RpcError) return `${err.name}: ${err.message}`;
  if (isVipError(err, 'VIP_UNREACHABLE')) return `${err.message} (is the agent running?)`;
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string {
  if (err instanceof CliError) return 'CLI';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
