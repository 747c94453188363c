import { Argument, Command, Option } from 'commander';
import { EXIT_CODES_TEXT } from '@vip/protocol';
import type { Agent } from '@vip/agent';
import { validateOptions, type CliOptions } from './args.js';
import { completionScript, COMPLETION_SHELLS, type CompletionShell } from './completion.js';
import { connectToPlatform, vipHomeOf } from './connect.js';
import {
  authAddCommand,
  authListCommand,
  authMoveCommand,
  authRemoveCommand,
  keysGenerateCommand,
  keysShowCommand,
} from './commands/file-commands.js';
import {
  peersCommand,
  pingCommand,
  platformsCommand,
  queryCommand,
  rpcCallCommand,
  rpcInspectCommand,
  STATS_OPS,
  statsCommand,
  statusCommand,
} from './commands/platform-commands.js';
import { healthCommand } from './commands/health-command.js';
import { publishBody, publishCommand, subscribeCommand } from './commands/pubsub-commands.js';
import {
  configDeleteCommand,
  configEditCommand,
  configGetCommand,
  configListCommand,
  configStoreCommand,
  CONFIG_TYPES,
} from './commands/config-commands.js';
import { topCommand } from './commands/top-command.js';
import { linkAddCommand, linkApplyCommand, linkRemoveCommand, linkStatusCommand } from './commands/link-commands.js';
import { readHomeConfig, type HomeConfig } from './home-config.js';
import type { CliIo } from './output.js';
import { version } from '../package.json';

/** A command's handler: its checked options, then its arguments as commander gives them (undefined when optional and absent, a list when variadic). */
type Action = (o: CliOptions, ...args: (string | undefined)[]) => Promise<void> | void;

/** Run `fn` with the command's options checked (global ones included) and its arguments. */
function act(cmd: Command, fn: Action): Command {
  return cmd.action(async (...params: unknown[]) => {
    const self = params.at(-1) as Command;
    await fn(validateOptions(self.optsWithGlobals()), ...(params.slice(0, -2) as (string | undefined)[]));
  });
}

/** The connection options of every command that talks to the platform. */
function connection(cmd: Command): Command {
  cmd
    .optionsGroup('Connection:')
    .option('--address <url>', "the platform's address (default: its local ipc address, ipc://@$VIP_HOME/run/vip.socket)")
    .option('-t, --timeout <seconds>', 'how long to wait for each answer (default 30)')
    .option('--connect-timeout <seconds>', "how long to wait for the platform's welcome (default 5)");
  return bus(cmd);
}

/** Which bus and broker (for commands that connect, and for auth add/remove, which make broker users on RabbitMQ). */
function bus(cmd: Command): Command {
  return cmd
    .optionsGroup('Bus (default: what the running platform recorded in $VIP_HOME/run/bus.json, else $VIP_HOME/config, else zmq):')
    .addOption(new Option('--message-bus <bus>', "the platform's bus").choices(['zmq', 'rmq']))
    .option('--rmq-url <url>', 'RabbitMQ broker (default amqp://guest:guest@127.0.0.1:5672)')
    .option('--rmq-vhost <name>', 'virtual host (default: the instance name)')
    .option('--instance-name <name>', 'instance name (default vip1)')
    .option('--rmq-ca <file>', "amqps: PEM CA certificate(s) (default: the platform's)")
    .option('--rmq-cert <file>', "amqps: PEM client certificate, with --rmq-key (default: the platform's)")
    .option('--rmq-key <file>', 'amqps: PEM private key of --rmq-cert')
    .option('--rmq-external', 'log in by client certificate (SASL EXTERNAL; default: as the platform does)');
}

function management(cmd: Command): Command {
  return cmd.option(
    '--rmq-management-url <url>',
    "RabbitMQ management API, http://[user:password@]host:15672 (default: the platform's, else the broker host as guest)",
  );
}

/**
 * The vipctl command tree (commander): each command declares its own arguments and options, so
 * an option of another command is an error, and `vipctl <command> --help` describes that command.
 * Built anew for every run (runCli is called many times in one process by tests and embedders).
 */
export function buildProgram(io: CliIo): Command {
  const env = io.env;
  const config = (o: CliOptions): Promise<HomeConfig> => readHomeConfig(vipHomeOf(o, env), io, o.json);
  const onPlatform = async (o: CliOptions, use: (agent: Agent) => Promise<void>): Promise<void> => {
    const agent = await connectToPlatform(o, env, await config(o));
    try {
      await use(agent);
    } finally {
      await agent.close();
    }
  };

  const program = new Command('vipctl')
    .description(
      "Operator CLI for a VIP platform (VOLTTRON's vctl), on the platform's machine: VIP_HOME is --vip-home, else $VIP_HOME, $VOLTTRON_HOME, ~/.vip.",
    )
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (vipctl <command> --help for one command)')
    .option('--json', 'one JSON value per result; errors as JSON on stderr')
    .option('--vip-home <path>', "the platform's home")
    .addHelpText('after', `\n${EXIT_CODES_TEXT}.\nShell completion: source <(vipctl completion bash) (or zsh).`);

  program.commandsGroup("Platform (connects as control.connection.<id>, over ZeroMQ with the platform's keys or over RabbitMQ):");
  act(
    connection(program.command('status').description('instance, version, bus, server key, addresses, number of peers besides vipctl')),
    (o) => onPlatform(o, (agent) => statusCommand(agent, o, io)),
  );
  act(connection(program.command('peers').description('the connected identities (besides vipctl)')), (o) =>
    onPlatform(o, (agent) => peersCommand(agent, o, io)),
  );
  act(
    connection(
      program
        .command('ping')
        .argument('[peer]', 'a connected identity (default: the router)')
        .description('round trip to the router or a peer'),
    ),
    (o, peer) => onPlatform(o, (agent) => pingCommand(agent, peer ?? '', o, io)),
  );
  act(
    connection(
      program
        .command('top')
        .description('the status page in the terminal: peers, topics, rates, Tracker, linked platforms, refreshed until Ctrl-C')
        .option('--once', 'print once and exit')
        .option('--interval <seconds>', 'seconds between refreshes, 1 to 60 (default 2)')
        .option('--iterations <n>', 'stop after N refreshes'),
    ),
    (o) => onPlatform(o, (agent) => topCommand(agent, o, io)),
  );
  act(
    connection(
      program
        .command('query')
        .argument('<property>', 'serverkey, addresses, instance-name, platform-version, vip-version, message-bus, vip-router-stats...')
        .description('a router property; one the platform does not have is an error (exit 1)'),
    ),
    (o, property) => onPlatform(o, (agent) => queryCommand(agent, property!, o, io)),
  );

  act(
    connection(program.command('platforms').description('the linked platforms: state, since, handshake, counters (multi-platform)')),
    (o) => onPlatform(o, (agent) => platformsCommand(agent, o, io)),
  );

  act(connection(program.command('health').description("each connected agent's last heartbeat status and alert (platform.health)")), (o) =>
    onPlatform(o, (agent) => healthCommand(agent, o, io)),
  );

  const rpc = program.command('rpc').helpCommand(false).description('call an exported method, or list them (rpc inspect)');
  act(
    connection(
      rpc
        .command('call', { isDefault: true })
        .description('call <method> of <peer> (the default: vipctl rpc <peer> <method> [args...])')
        .argument('<peer>', 'the identity that exports the method')
        .argument('<method>', 'its name')
        .argument('[args...]', 'arguments, each JSON (else a string)')
        .option('--kwargs <json>', 'keyword arguments, a JSON object')
        .option('--platform <name>', 'the peer is on this linked platform (external RPC through the routing service)'),
    ),
    (o, peer, method, args) => onPlatform(o, (agent) => rpcCallCommand(agent, peer!, method!, args as unknown as string[], o, io)),
  );
  act(
    connection(
      rpc
        .command('inspect')
        .description("the methods a peer exports, or one method's signature")
        .argument('<peer>', 'the identity')
        .argument('[method]', 'one method'),
    ),
    (o, peer, method) => onPlatform(o, (agent) => rpcInspectCommand(agent, peer!, method, o, io)),
  );

  const stats = program.command('stats').helpCommand(false).description('router statistics through the control service');
  const statsText = {
    enable: "start the router's message statistics (needs capability manage_platform_stats)",
    get: 'the statistics so far',
    disable: 'stop them (needs manage_platform_stats)',
    counters: 'always-on counters: drops by reason, pubsub back-pressure drops, errors sent',
  } as const;
  for (const op of STATS_OPS)
    act(connection(stats.command(op).description(statsText[op])), (o) => onPlatform(o, (agent) => statsCommand(agent, op, o, io)));

  act(
    connection(
      program
        .command('publish')
        .description('publish a message; prints the subscriber count')
        .argument('<topic>', 'e.g. devices/ahu1')
        .argument('[message]', 'JSON, e.g. \'{"temp": 21}\' or \'"text"\'')
        .option('--bus <bus>', 'the pubsub bus (default: the default bus)')
        .option('--raw', 'publish the message text as it is, not as JSON'),
    ),
    (o, topic, message) => {
      const body = publishBody(message, o); // a message that is not JSON is refused before connecting
      return onPlatform(o, (agent) => publishCommand(agent, topic!, body, o, io));
    },
  );
  act(
    connection(
      program
        .command('subscribe')
        .description('print messages on a topic prefix until --count arrived, --timeout passed or Ctrl-C')
        .argument('<prefix>', 'topic prefix, e.g. devices/')
        .option('-n, --count <n>', 'stop after N messages (exit 4 if fewer arrive within --timeout)')
        .option('--bus <bus>', 'the pubsub bus (default: the default bus)'),
    ),
    (o, prefix) => onPlatform(o, (agent) => subscribeCommand(agent, prefix!, o, io)),
  );

  const configCmd = program
    .command('config')
    .helpCommand(false)
    .description("agents' configuration store (config.store; VOLTTRON's vctl config)");
  const typeOptions = (cmd: Command) =>
    cmd
      .optionsGroup('Type (default json):')
      .addOption(new Option('--type <type>', "the config's type").choices(CONFIG_TYPES))
      .option('--raw', 'text, stored as it is (--type raw)')
      .option('--csv', 'CSV with a header row (--type csv)');
  act(
    connection(
      typeOptions(
        configCmd
          .command('store')
          .description('store a config for an agent, from a file or - for stdin; the agent hears NEW or UPDATE')
          .argument('<identity>', 'the agent')
          .argument('<name>', "the config's name, e.g. config or devices/ahu1")
          .argument('<file>', 'a file, or - for stdin'),
      ),
    ),
    (o, identity, name, file) => onPlatform(o, (agent) => configStoreCommand(agent, identity!, name!, file!, o, io)),
  );
  act(
    connection(
      configCmd
        .command('get')
        .description('a config, parsed (JSON), or with --raw the text as stored')
        .argument('<identity>', 'the agent')
        .argument('<name>', 'the config')
        .option('--raw', 'the text as stored'),
    ),
    (o, identity, name) => onPlatform(o, (agent) => configGetCommand(agent, identity!, name!, o, io)),
  );
  act(
    connection(configCmd.command('list').description('the agents with a store, or the configs of one').argument('[identity]', 'the agent')),
    (o, identity) => onPlatform(o, (agent) => configListCommand(agent, identity, o, io)),
  );
  act(
    connection(
      configCmd
        .command('delete')
        .description("delete a config (the agent hears DELETE), or --all of an agent's store")
        .argument('<identity>', 'the agent')
        .argument('[name]', 'the config')
        .option('--all', 'every config of the store'),
    ),
    (o, identity, name) => onPlatform(o, (agent) => configDeleteCommand(agent, identity!, name, o, io)),
  );
  act(
    connection(
      typeOptions(
        configCmd
          .command('edit')
          .description('edit a config in $VISUAL/$EDITOR (or --editor) and store it if it changed')
          .argument('<identity>', 'the agent')
          .argument('<name>', 'the config')
          .option('--editor <command>', 'the editor to run (default $VISUAL, $EDITOR, vi)')
          .option('--new', 'create a config that does not exist yet'),
      ),
    ),
    (o, identity, name) => onPlatform(o, (agent) => configEditCommand(agent, identity!, name!, o, io)),
  );

  program.commandsGroup('Files in VIP_HOME (no platform needed):');
  const keys = program.command('keys').helpCommand(false).description('CURVE key pairs');
  act(keys.command('generate').description('a new CURVE key pair (printed, not stored)'), (o) => keysGenerateCommand(o, io));
  act(
    keys
      .command('show')
      .description("the platform's public key, or an agent's")
      .option('--identity <name>', 'the agent (keystores/<name>)'),
    (o) => keysShowCommand(o, io),
  );

  const auth = program
    .command('auth')
    .helpCommand(false)
    .description('who may connect: $VIP_HOME/auth.json (reloaded live), RabbitMQ agent users');
  act(auth.command('list').description('allow and deny entries, and pending (refused) keys'), (o) => authListCommand(o, io));
  act(
    management(
      bus(
        auth
          .command('add')
          .description('admit a key (--credentials), or an agent by name (--identity: its own key pair; on RabbitMQ also its broker user)')
          .optionsGroup('Entry:')
          .option('--credentials <key>', 'a CURVE public key')
          .option(
            '--identity <name>',
            'the agent: its key pair in keystores/<name> (made if absent), pinned to this identity; on RabbitMQ broker user <instance>.<name> with its link in keystores/<name>/rmq.json',
          )
          .option('--user-id <id>', "the entry's user (default: the identity)")
          .option('--capabilities <json>', 'a JSON object, e.g. \'{"can_set": null}\'')
          .option('--comments <text>', 'a note')
          .option('--deny', 'add to the deny list')
          .option('--days <n>', "EXTERNAL (certificate) platform: validity of the agent's certificate (default 365)"),
      ),
    ),
    async (o) => authAddCommand(o, io, await config(o)),
  );
  act(
    management(
      bus(
        auth
          .command('remove')
          .description('remove an entry; --identity also removes its broker user, rmq.json and certificate (RabbitMQ, running or not)')
          .argument('[user-id]', "the entry's user id")
          .optionsGroup('Entry:')
          .option('--index <n>', 'the entry at this index (vipctl auth list)')
          .option('--identity <name>', 'the agent added with auth add --identity')
          .option('--deny', 'from the deny list'),
      ),
    ),
    async (o, userId) => authRemoveCommand(userId, o, io, await config(o)),
  );
  act(
    auth
      .command('approve')
      .description("allow a pending (refused) key; over ipc the entry holds for the agent's later runs")
      .argument('<user-id>', 'from the pending list of auth list'),
    (o, userId) => authMoveCommand('approve', userId!, o, io),
  );
  act(
    auth.command('deny').description('deny a pending key, or move an allowed one to the deny list').argument('<user-id>', 'from auth list'),
    (o, userId) => authMoveCommand('deny', userId!, o, io),
  );

  program.commandsGroup("Links between RabbitMQ platforms (management API; files in VIP_HOME as VOLTTRON's):");
  const linkText = {
    federation: {
      what: 'federation upstreams: all-platforms pubsub from other platforms (rabbitmq_federation_config.yml)',
      user: 'federation-user',
    },
    shovel: { what: 'shovels: pubsub topics and RPC to another platform (rabbitmq_shovel_config.yml)', user: 'shovel-user' },
  } as const;
  for (const kind of ['federation', 'shovel'] as const) {
    const links = program.command(kind).helpCommand(false).description(linkText[kind].what);
    act(
      management(bus(links.command('status').description('each configured link and its state on the broker (running, starting, down...)'))),
      async (o) => linkStatusCommand(kind, o, io, await config(o)),
    );
    act(
      management(bus(links.command('apply').description('set up what the file says (idempotent; changed values are reported)'))),
      async (o) => linkApplyCommand(kind, o, io, await config(o)),
    );
    let add = links
      .command('add')
      .description(`add or replace the entry of <host> in the file, then apply it`)
      .argument('<host>', "the remote broker's host")
      .optionsGroup('Remote broker:')
      .option('--port <n>', 'its AMQP port (default 5672)')
      .option('--remote-vhost <name>', 'its virtual host (default volttron)')
      .option('--user <name>', `${linkText[kind].user}: the user the link logs in as there (default guest)`)
      .option('--password <text>', "that user's password (kept in the file, 0600)")
      .addOption(
        new Option('--scheme <scheme>', 'amqp or amqps (default amqp; amqps with certificates in the file)').choices(['amqp', 'amqps']),
      );
    if (kind === 'shovel') {
      add = add
        .optionsGroup('What to move:')
        .option('--topic <identity:topic...>', 'publishes of <identity> on <topic> go to the remote platform (repeatable)')
        .option('--rpc <instance:local:remote...>', 'RPC of <local> identity to <remote> identity of remote <instance> (repeatable)');
    }
    act(management(bus(add)), async (o, host) => linkAddCommand(kind, host!, o, io, await config(o)));
    act(
      management(
        bus(
          links
            .command('remove')
            .description("remove <host>'s links from the broker and its entry from the file")
            .argument('<host>', "the remote broker's host"),
        ),
      ),
      async (o, host) => linkRemoveCommand(kind, host!, o, io, await config(o)),
    );
  }

  program.commandsGroup('Help and shell:').helpCommand('help [command]', 'show help for a command');
  act(
    program
      .command('completion')
      .description('print the shell completion script: source <(vipctl completion bash) in ~/.bashrc (zsh: in ~/.zshrc after compinit)')
      .addArgument(new Argument('<shell>', 'bash or zsh').choices(COMPLETION_SHELLS)),
    (_o, shell) => io.out(completionScript(program, shell as CompletionShell)),
  );
  return program;
}
