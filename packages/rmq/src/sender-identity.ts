import { InvalidPayloadError, type Logger } from '@vip/protocol';
import type { LinkSession } from './link-session.js';
import { RmqSetupError } from './rmq-errors.js';
import type { RmqLinkOptions } from './rmq-options.js';

/**
 * Sender identity proven by RabbitMQ. A publisher's app_id and `user` header are asserted by the
 * publisher; the AMQP property `user_id` is not: RabbitMQ closes the channel of a publish whose
 * user_id is not the connection's authenticated user (PRECONDITION_FAILED). So publishers set it
 * to their broker user when that name is known for sure (publisherUserId), and receivers holding a
 * user_id `<instance>.<x>` (an agent user of their instance) require the sender to be `x`
 * (checkSender). A user_id of another form (guest, a shared user) or none (Python agents) proves
 * nothing about the identity: the `user` header is used as before.
 */

/** A delivery whose proven publisher (user_id) is not the sender it claims (app_id, pubsub body). */
export class SpoofedSenderError extends InvalidPayloadError {
  readonly userId: string;
  readonly claimed: string;
  constructor(what: string, userId: string, claimed: string) {
    super(what, `published by broker user ${JSON.stringify(userId)} claiming to be ${JSON.stringify(claimed)}`);
    this.name = 'SpoofedSenderError';
    this.userId = userId;
    this.claimed = claimed;
  }
}

/** The broker user of a delivery when it is an agent user of `instance` (`<instance>.<x>`); undefined otherwise. */
export function agentUserOf(userId: unknown, instance: string): string | undefined {
  return typeof userId === 'string' && userId.length > instance.length + 1 && userId.startsWith(`${instance}.`) ? userId : undefined;
}

/**
 * The proven VIP user of a delivery claiming `appId` (`<platform>.<identity>`): the agent user when
 * user_id is `<instance>.<x>` and app_id is that same name; SpoofedSenderError when app_id differs;
 * undefined when user_id proves nothing (absent, another form): the caller keeps the header.
 */
export function checkSender(userId: unknown, instance: string, appId: string, what: string): string | SpoofedSenderError | undefined {
  const user = agentUserOf(userId, instance);
  if (user === undefined) return undefined;
  return appId === user ? user : new SpoofedSenderError(what, user, appId);
}

/**
 * The user_id a client publishing as `identity` sets, or undefined for none. Known for sure: the
 * URL's user name for password logins (none in the URL: amqplib logs in as guest, treated as
 * unknown); under EXTERNAL only an explicit `brokerUser` (the name depends on the broker's
 * `ssl_cert_login_from`). `brokerUser: false` sets none. Never a user `<instance>.<y>` of another
 * identity (a user shared by several identities would be refused by every receiver as spoofing).
 */
export function publisherUserId(o: RmqLinkOptions, identity: string): string | undefined {
  if (o.brokerUser === false) return undefined;
  const user = o.brokerUser ?? (o.tls?.external ? undefined : urlUser(o.url));
  if (user === undefined || user === '') return undefined;
  const agent = agentUserOf(user, o.instanceName);
  return agent === undefined || agent === `${o.instanceName}.${identity}` ? user : undefined;
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
  const option = explicit ? '`brokerUser`' : 'the URL\'s user name';
  if (/PRECONDITION_FAILED|PRECONDITION-FAILED/.test(why)) {
    const actual = /authenticated user was '([^']*)'/.exec(why)?.[1];
    throw new RmqSetupError('credentials',
      `RabbitMQ refused user_id ${JSON.stringify(userId)} (from ${option}): the connection is authenticated as ${actual === undefined ? 'another user' : JSON.stringify(actual)}`,
      actual === undefined ? 'set brokerUser to the broker user name of this connection, or brokerUser: false to set no user_id'
        : `set brokerUser: ${JSON.stringify(actual)} (the broker's name for this login), or brokerUser: false to set no user_id`,
      { cause: failure });
  }
  if (explicit) {
    throw new RmqSetupError('permission', `could not verify brokerUser ${JSON.stringify(userId)}: the check publish to amq.default failed (${why})`,
      'grant the user write on amq.default (VOLTTRON agent permissions include amq.*), or brokerUser: false to set no user_id', { cause: failure });
  }
  log.warn('rmq.user-id.unverified', { userId, reason: why });
}
