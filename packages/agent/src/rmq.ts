// Public API of @vip/agent/rmq: RabbitMQ wiring for the transport-neutral Agent (needs @vip/rmq, amqplib).
import { resolveVipHome } from '@vip/auth';
import { ConfigError } from '@vip/protocol';
import {
  agentLinkFromFile,
  agentRmqFilePath,
  readAgentRmqFile,
  RmqConnection,
  type ManagementOptions,
  type RmqConnectionOptions,
} from '@vip/rmq';
import type { PrefixMatch } from '@vip/rmq/pubsub';
import { Agent, type AgentOptions } from './agent.js';
import { RmqPubSubSubsystem } from './pubsub/rmq-pubsub-subsystem.js';

export { RmqPubSubSubsystem };
export type { RmqPubSubSubsystemOptions, RmqSubscribeOptions } from './pubsub/rmq-pubsub-subsystem.js';

export interface RmqAgentOptions extends Omit<AgentOptions, 'connection' | 'target'> {
  /** Broker link: `url`, `vhost`, `instanceName`, TLS, reconnect policy (see @vip/rmq). */
  readonly rmq: Omit<RmqConnectionOptions, 'identity' | 'logger'>;
  /**
   * Where `agent.pubsub` goes: `broker` (default) is VOLTTRON's RMQ pubsub straight through the
   * `volttron` exchange (RmqPubSubSubsystem, interoperates with Python RMQ agents); `router` is the
   * ZMQ-style subsystem talking to the platform's PubSubService over RMQ (character prefixes,
   * protected topics enforced by the router, counts from the router).
   */
  readonly pubsubVia?: 'broker' | 'router';
  /** Broker pubsub: `segment` (default, VOLTTRON RMQ) or `character` (ZMQ `startsWith`) prefix matching. */
  readonly prefixMatch?: PrefixMatch;
  /**
   * Broker pubsub: management API for true subscriber counts and `list`. Default: the broker host
   * of `rmq.url` on port 15672 (https 15671 for amqps) with the URL's credentials; `false`: none
   * (publish resolves 1 as VOLTTRON, list rejects). A login the API refuses (an agent's own broker
   * user has none) also makes publish resolve 1, with one warning; connectRmqAgent with the link
   * from rmq.json defaults to `false`.
   */
  readonly management?: ManagementOptions | false;
  /**
   * Send messages for peers the router announced on the `zmq` bus (ZeroMQ agents of the
   * platform's proxy router) through the proxy inbox, as VOLTTRON's RMQ agents do
   * (`send_via_proxy`, docs/protocol.md 6.5). Default true. Off, they go to the peer's routing key
   * `<instance>.<peer>`, which vip's proxy router also serves.
   */
  readonly zmqPeersViaProxy?: boolean;
}

/** The management API beside the broker of `url`: same host and credentials, port 15672 (15671 over TLS). */
export function defaultManagement(url: string): ManagementOptions {
  const u = new URL(url);
  const tls = u.protocol === 'amqps:';
  return {
    baseUrl: `${tls ? 'https' : 'http'}://${u.hostname}:${tls ? 15671 : 15672}`,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

/**
 * Build an Agent over a RabbitMQ connection (not started). Capability checks use the VIP user
 * without its `<instance>.` prefix, as VOLTTRON does on RMQ (docs/protocol.md 4.5). `agent.pubsub`
 * is broker pubsub unless `pubsubVia: 'router'`.
 */
export function createRmqAgent(options: RmqAgentOptions): Agent {
  const { rmq, pubsubVia, prefixMatch, management, zmqPeersViaProxy, ...agentOptions } = options;
  // peers on the zmq bus, from the router's peerlist add/drop (kept across reconnections)
  const zmqPeers = zmqPeersViaProxy === false ? undefined : new Set<string>();
  const viaProxy = zmqPeers && ((peer: Buffer) => zmqPeers.size > 0 && zmqPeers.has(peer.toString('utf8')));
  const connection = (): RmqConnection =>
    new RmqConnection({
      ...rmq,
      identity: options.identity,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(viaProxy ? { viaProxy } : {}),
    });
  const broker = new URL(rmq.url);
  const { declareTopology: _declare, user: _user, ...link } = rmq;
  const mgmt = management === false ? undefined : (management ?? defaultManagement(rmq.url));
  const pubsub: AgentOptions['pubsub'] =
    options.pubsub === false || pubsubVia === 'router'
      ? options.pubsub
      : (core) => new RmqPubSubSubsystem(core, { link, ...(prefixMatch ? { prefixMatch } : {}), ...(mgmt ? { management: mgmt } : {}) });
  const agent = new Agent({
    ...agentOptions,
    connection,
    target: `${broker.protocol}//${broker.host} (vhost ${rmq.vhost ?? 'volttron'}, instance ${rmq.instanceName})`,
    rpc: { userOf: (user) => user.slice(user.indexOf('.') + 1), ...options.rpc },
    pubsub,
  });
  if (zmqPeers) {
    agent.peerlist.onAdd((peer, bus) => void (bus === 'zmq' ? zmqPeers.add(peer) : zmqPeers.delete(peer)));
    agent.peerlist.onDrop((peer) => void zmqPeers.delete(peer));
  }
  return agent;
}

export interface ConnectRmqAgentOptions extends Omit<RmqAgentOptions, 'rmq'> {
  /**
   * Broker link. Default: the agent's own, from `$VIP_HOME/keystores/<identity>/rmq.json` (written
   * by `vipctl auth add --identity <identity>`: its broker user's URL and password, or its client
   * certificate on an EXTERNAL platform), as connectZmqAgent finds its keys in the keystore.
   */
  readonly rmq?: RmqAgentOptions['rmq'];
  /** Where rmq.json is looked for; default `$VIP_HOME`, `$VOLTTRON_HOME`, else `~/.vip`. */
  readonly vipHome?: string;
}

/**
 * Build and start an agent over RabbitMQ: `connectRmqAgent({ identity: 'thermostat' })` connects
 * with the link in the agent's rmq.json; explicit `rmq` options are used as they are. With the
 * link from rmq.json, `management` defaults to `false`: an agent's own broker user has no
 * management login, so publishes resolve 1 as VOLTTRON's do (pass management options with a
 * login that may read bindings for true counts). Rejects with ConfigError when there is no
 * rmq.json (saying how to make one), HelloTimeoutError when no platform answers.
 */
export async function connectRmqAgent(options: ConnectRmqAgentOptions): Promise<Agent> {
  const { rmq, vipHome, ...rest } = options;
  const agent = createRmqAgent(
    rmq !== undefined ? { ...rest, rmq } : await fromAgentFile(options.identity, vipHome ?? resolveVipHome(), rest),
  );
  await agent.start();
  return agent;
}

async function fromAgentFile(
  identity: string,
  vipHome: string,
  rest: Omit<ConnectRmqAgentOptions, 'rmq' | 'vipHome'>,
): Promise<RmqAgentOptions> {
  const file = await readAgentRmqFile(vipHome, identity);
  if (!file) {
    throw new ConfigError(
      `no broker link for agent ${JSON.stringify(identity)}: ${agentRmqFilePath(vipHome, identity)} does not exist; ` +
        `make it with vipctl auth add --identity ${identity} on the platform's machine (or pass rmq options)`,
    );
  }
  return { ...rest, rmq: await agentLinkFromFile(file), management: rest.management ?? false };
}
