// Public API of @vip/agent/zmq: ZeroMQ wiring for the transport-neutral Agent.
import { join } from 'node:path';
import { Address, ConfigError, type Logger } from '@vip/protocol';
import { defaultLocalAddress, KeyStore, KnownHosts, resolveVipHome } from '@vip/auth';
import { ZmqConnection } from '@vip/zmq';
import { Agent, DEFAULT_HELLO_TIMEOUT_MS, type AgentOptions } from './agent.js';

export interface ZmqAgentOptions extends Omit<AgentOptions, 'connection' | 'target'> {
  /**
   * Router address; default `$VIP_ADDRESS`/`$VOLTTRON_VIP_ADDR`, else `ipc://@$VIP_HOME/run/vip.socket`.
   * Query params `serverkey`, `publickey`, `secretkey`, `ipv6`, and `username`/`password` (PLAIN,
   * where no server key is known) are honoured.
   */
  readonly address?: string;
  /** Default `$VIP_HOME`, `$VOLTTRON_HOME`, else `~/.vip`. */
  readonly vipHome?: string;
  /** Platform public key; else the address' `serverkey`, else `$VIP_HOME/known_hosts` for that address. */
  readonly serverKey?: string;
  /** This agent's key pair; else the address' keys, else `keystores/<identity>/keystore.json` (created on first use). */
  readonly publicKey?: string;
  readonly secretKey?: string;
  /** Use the platform's own key pair (`$VIP_HOME/keystore`), as vctl does on the platform's machine. */
  readonly usePlatformKeys?: boolean;
  readonly reconnectIntervalMs?: number;
  readonly reconnectMaxIntervalMs?: number;
  /** Speak through a ROUTER socket to the router of this socket identity (docs/protocol.md 1.6; `routerSocketIdentity` of @vip/zmq finds it). */
  readonly via?: string;
  readonly logger?: Logger;
}

/** The platform home and its local address, as every vip program resolves them (@vip/auth). */
export { resolveVipHome, defaultLocalAddress };

/** Resolve keys and address, and build an Agent over a ZmqConnection (not started). */
export async function createZmqAgent(options: ZmqAgentOptions): Promise<Agent> {
  const vipHome = options.vipHome ?? resolveVipHome();
  const addressText = options.address ?? process.env.VIP_ADDRESS ?? process.env.VOLTTRON_VIP_ADDR ?? defaultLocalAddress(vipHome);
  const address = Address.parse(addressText);
  const serverKey = options.serverKey ?? address.serverkey ?? (await KnownHosts.forHome(vipHome).get(address.base));
  if (serverKey === undefined) {
    throw new ConfigError(
      `no server key for ${address.base}: pass serverKey, add ?serverkey=... to the address, or record it in ${join(vipHome, 'known_hosts')}`,
    );
  }
  let publicKey = options.publicKey ?? address.publickey;
  let secretKey = options.secretKey ?? address.secretkey;
  if (publicKey === undefined || secretKey === undefined) {
    const store = options.usePlatformKeys
      ? KeyStore.platform(vipHome, { logger: options.logger })
      : KeyStore.agent(vipHome, options.identity, { logger: options.logger });
    const pair = options.usePlatformKeys ? await store.load() : await store.loadOrCreate();
    if (!pair) throw new ConfigError(`no platform key pair in ${store.path}: is VIP_HOME (${vipHome}) the platform's home?`);
    publicKey = pair.public;
    secretKey = pair.secret;
  }
  const helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const connection = (): ZmqConnection =>
    new ZmqConnection({
      identity: options.identity,
      // the whole address: its ipv6 and PLAIN parameters apply (keys given here take the place of its own)
      address: address.toUrl({ unmasked: true }),
      serverKey,
      publicKey,
      secretKey,
      openTimeoutMs: helloTimeoutMs,
      ...(options.reconnectIntervalMs !== undefined ? { reconnectIntervalMs: options.reconnectIntervalMs } : {}),
      ...(options.reconnectMaxIntervalMs !== undefined ? { reconnectMaxIntervalMs: options.reconnectMaxIntervalMs } : {}),
      ...(options.via !== undefined ? { via: options.via } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  return new Agent({ reopenAfterHelloTimeout: true, ...options, helloTimeoutMs, connection, target: address.toString() });
}

/** Build and start an agent over ZeroMQ; rejects with HelloTimeoutError, AuthError or ConfigError. */
export async function connectZmqAgent(options: ZmqAgentOptions): Promise<Agent> {
  const agent = await createZmqAgent(options);
  await agent.start();
  return agent;
}
