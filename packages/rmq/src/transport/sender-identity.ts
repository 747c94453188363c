import type { Logger } from '@vip/protocol';
import type { LinkSession } from './link-session.js';
import { RmqSetupError } from './rmq-errors.js';
import { externalUser, type RmqLinkOptions } from './rmq-options.js';
import { agentUserOf, isPlatformIdentity, platformBrokerUser, proxyBrokerUser, type SenderPolicy } from './sender-trust.js';

/**
 * The publishing side of sender identity (receivers: sender-trust.ts). RabbitMQ closes the channel
 * of a publish whose AMQP `user_id` is not the connection's authenticated user (PRECONDITION_FAILED),
 * so a delivered user_id proves its publisher. Publishers set it to their broker user when that
 * name is known for sure (publisherUserId) and check it once at the first connect
 * (verifyPublisherUserId); a client's default receiving policy follows from its login
 * (senderPolicyOf).
 */

/**
 * The user_id a client publishing as `identity` sets, or undefined for none. Known for sure: the
 * URL's user name for password logins (none in the URL: amqplib logs in as guest, treated as
 * unknown); under EXTERNAL only an explicit `brokerUser` (the name depends on the broker's
 * `ssl_cert_login_from`). `brokerUser: false` sets none. A user of this instance is set only for
 * its own identity, or for a platform identity when it is the platform's user `<instance>.router`,
 * or for any other identity when it is the proxy router's user `<instance>.zmq.proxy.router` (every
 * receiver would refuse anything else as spoofing).
 */
export function publisherUserId(o: RmqLinkOptions, identity: string): string | undefined {
  if (o.brokerUser === false) return undefined;
  const user = o.brokerUser ?? (o.tls?.external ? undefined : urlUser(o.url));
  if (user === undefined || user === '') return undefined;
  const agent = agentUserOf(user, o.instanceName);
  if (agent === undefined || agent === `${o.instanceName}.${identity}`) return user;
  // the proxy router publishes for the ZeroMQ peers it hosts (receivers: trust `proxied`)
  if (agent === proxyBrokerUser(o.instanceName)) return isPlatformIdentity(identity) ? undefined : user;
  return agent === platformBrokerUser(o.instanceName) && isPlatformIdentity(identity) ? user : undefined;
}

/**
 * The receiving policy of a client publishing as `identity`: `senderProof` when given, else
 * `required` when it logs in as a user of its instance (per-agent users are in use: unproven
 * senders get no user) and `optional` on a shared login (guest), where nothing can be proven.
 * The login is the user_id it sets, or under EXTERNAL the certificate's CN.
 */
export function senderPolicyOf(o: RmqLinkOptions, identity: string): SenderPolicy {
  const login = publisherUserId(o, identity) ?? (o.tls?.external && o.brokerUser !== false ? externalUser(o.tls) : undefined);
  const proof = o.senderProof ?? (agentUserOf(login, o.instanceName) !== undefined ? 'required' : 'optional');
  const legacy = o.legacyPeers ?? [];
  return { instance: o.instanceName, proof, legacyPeers: legacy === '*' ? '*' : new Set(legacy) };
}

/** The user name in an amqp(s) URL, decoded; '' when absent. */
export function urlUser(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

/** A queue name no client can declare (`amq.` is reserved): the self-check's publish routes nowhere. */
const CHECK_ROUTING_KEY = 'amq.vip.user-id-check';
const CHECK_TIMEOUT_MS = 5_000;

/**
 * Publish one empty message with `userId` to the default exchange (routed nowhere) on a
 * throw-away confirm channel, so a wrong name fails open() once, clearly, instead of closing the
 * channel on every publish (a reconnect loop). PRECONDITION_FAILED: an RmqSetupError
 * `credentials` naming the authenticated user and the option. A refusal for lack of write
 * permission on `amq.default` cannot tell: an error when the name was given explicitly
 * (`brokerUser`), a warning otherwise (the URL's user is what the broker authenticated).
 */
export async function verifyPublisherUserId(session: LinkSession, userId: string, o: RmqLinkOptions, log: Logger): Promise<void> {
  const ch = await session.createConfirmChannel();
  let failure: Error | undefined;
  const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
  ch.on('error', (err: Error) => (failure = err));
  const confirmed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      resolve(ok);
    };
    try {
      ch.publish('', CHECK_ROUTING_KEY, Buffer.alloc(0), { userId }, (err) => done(!err));
    } catch (err) {
      failure = err as Error;
      done(false);
    }
  });
  if (confirmed) {
    await ch.close().catch((err: unknown) => log.debug('rmq.channel.close-failed', {}, err));
    return;
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000).unref())]);
  const why = failure?.message ?? 'no confirm within 5 s';
  const explicit = o.brokerUser !== undefined;
  const option = explicit ? '`brokerUser`' : "the URL's user name";
  if (/PRECONDITION_FAILED|PRECONDITION-FAILED/.test(why)) {
    const actual = /authenticated user was '([^']*)'/.exec(why)?.[1];
    throw new RmqSetupError(
      'credentials',
      `RabbitMQ refused user_id ${JSON.stringify(userId)} (from ${option}): the connection is authenticated as ${actual === undefined ? 'another user' : JSON.stringify(actual)}`,
      actual === undefined
        ? 'set brokerUser to the broker user name of this connection, or brokerUser: false to set no user_id'
        : `set brokerUser: ${JSON.stringify(actual)} (the broker's name for this login), or brokerUser: false to set no user_id`,
      { cause: failure },
    );
  }
  if (explicit) {
    throw new RmqSetupError(
      'permission',
      `could not verify brokerUser ${JSON.stringify(userId)}: the check publish to amq.default failed (${why})`,
      'grant the user write on amq.default (VOLTTRON agent permissions include amq.*), or brokerUser: false to set no user_id',
      { cause: failure },
    );
  }
  log.warn('rmq.user-id.unverified', { userId, reason: why });
}
