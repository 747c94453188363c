import type { Logger } from '@vip/protocol';
import { PubSubWrapper, PUBSUB_WRAPPER_IDENTITY } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import type { AuthFile } from '@vip/auth';
import { ensureServiceEntry } from './auth-service/index.js';

/** The running legacy pubsub service; `close()` stops its agent. */
export interface LegacyPubSub {
  readonly wrapper: PubSubWrapper;
  close(): Promise<void>;
}

/**
 * VOLTTRON's PubSubWrapper (docs/protocol.md 3.8): an agent with identity `pubsub` serving the
 * RPC-based pubsub of agents written for VOLTTRON <= 4.1, started by `--legacy-pubsub true`.
 * It connects like the other local services, with its own key and an auth.json entry pinned to
 * its identity and no capabilities (legacy agents cannot publish on protected topics through it).
 */
export async function startLegacyPubSub(options: {
  readonly authFile: AuthFile;
  /** Reload auth.json now (the entry may just have been added). */
  readonly reloadAuth: () => Promise<unknown>;
  readonly vipHome: string;
  readonly address: string;
  readonly serverKey: string;
  readonly logger: Logger;
}): Promise<LegacyPubSub> {
  const logger = options.logger.child({ service: PUBSUB_WRAPPER_IDENTITY });
  const { keys, added } = await ensureServiceEntry({
    authFile: options.authFile, vipHome: options.vipHome, identity: PUBSUB_WRAPPER_IDENTITY, capabilities: {}, logger,
  });
  if (added) await options.reloadAuth();
  const agent = await createZmqAgent({
    identity: PUBSUB_WRAPPER_IDENTITY, vipHome: options.vipHome, address: options.address, serverKey: options.serverKey,
    publicKey: keys.public, secretKey: keys.secret, logger,
  });
  const wrapper = new PubSubWrapper(agent);
  await agent.start();
  logger.info('legacy.pubsub.started', { identity: agent.identity });
  return { wrapper, close: () => agent.close() };
}
