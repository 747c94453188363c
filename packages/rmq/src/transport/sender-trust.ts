import { InvalidPayloadError } from '@vip/protocol';

/**
 * What a receiver believes about the sender of a delivery (README "Sender identity").
 *
 * A publisher writes `app_id` and the `user` header itself; RabbitMQ checks only the AMQP
 * property `user_id` (it must equal the connection's authenticated user). So a delivery proves
 * its sender only when it carries a user_id: an agent user `<instance>.<x>` proves app_id
 * `<instance>.<x>`, and the platform's own broker user `<instance>.router` proves the identities
 * the platform runs (router, control, platform.auth, platform.health, config.store, vipctl's control.connection.*). Nobody else
 * may claim those identities.
 *
 * Without proof it depends on the receiver's policy: where per-agent broker users are in use
 * (`proof: 'required'`, the default of a client logged in as an agent or platform user), an
 * unproven delivery is `anonymous` (no user: nothing a capability protects) unless its identity
 * is a configured legacy peer (VOLTTRON Python agents never set user_id), which is taken as that
 * identity with its own user only, never the user header it wrote. On a shared login
 * (`proof: 'optional'`, e.g. guest) nothing can be proven and the header is believed, as VOLTTRON.
 */

/** The identity of the platform's ZeroMQ proxy router (VOLTTRON's `zmq.proxy.router`, docs/protocol.md 6.5). */
export const PROXY_IDENTITY = 'zmq.proxy.router';

/** The identities only the platform runs; `control.connection.*` are vipctl's connections. */
export const PLATFORM_IDENTITIES: readonly string[] = [
  'router',
  'control',
  'platform.auth',
  'platform.health',
  'config.store',
  'control.connection',
  PROXY_IDENTITY,
];

/** Whether `identity` belongs to the platform: only the platform's broker user may claim it. */
export function isPlatformIdentity(identity: string): boolean {
  return PLATFORM_IDENTITIES.includes(identity) || identity.startsWith('control.connection.');
}

/** The platform's own broker user (VOLTTRON's router user), the one login that proves platform identities. */
export function platformBrokerUser(instance: string): string {
  return `${instance}.router`;
}

/**
 * The proxy router's broker user (VOLTTRON's `<instance>.zmq.proxy.router`): the one login that
 * vouches for the ZeroMQ peers the proxy hosts (their identities are proven there by CURVE).
 */
export function proxyBrokerUser(instance: string): string {
  return `${instance}.${PROXY_IDENTITY}`;
}

/** The broker user of a delivery when it is a user of `instance` (`<instance>.<x>`); undefined otherwise. */
export function agentUserOf(userId: unknown, instance: string): string | undefined {
  return typeof userId === 'string' && userId.length > instance.length + 1 && userId.startsWith(`${instance}.`) ? userId : undefined;
}

/** A delivery whose claimed sender is not what its broker user proves, or a platform identity claimed without proof. */
export class SpoofedSenderError extends InvalidPayloadError {
  readonly userId: string;
  readonly claimed: string;
  constructor(what: string, userId: string, claimed: string, detail?: string) {
    super(what, detail ?? `published by broker user ${JSON.stringify(userId)} claiming to be ${JSON.stringify(claimed)}`);
    this.name = 'SpoofedSenderError';
    this.userId = userId;
    this.claimed = claimed;
  }
}

/**
 * A platform identity claimed without the platform's user_id where proof is required. Either an
 * impersonation, or a platform on a shared login (`--rmq-shared-login`) talking to a client that
 * requires proofs: such a client needs `senderProof: 'optional'`.
 */
export class UnprovenPlatformIdentityError extends SpoofedSenderError {
  constructor(what: string, userId: string, claimed: string, instance: string) {
    super(
      what,
      userId,
      claimed,
      `${JSON.stringify(claimed)} without the platform's user_id ${JSON.stringify(platformBrokerUser(instance))}`,
    );
    this.name = 'UnprovenPlatformIdentityError';
  }
}

/** `required`: unproven senders get no user (per-agent broker users); `optional`: the header is believed (shared login). */
export type SenderProof = 'required' | 'optional';

/** A receiver's rules for unproven senders. */
export interface SenderPolicy {
  readonly instance: string;
  readonly proof: SenderProof;
  /** Identities accepted without proof as themselves (with their own user): VOLTTRON Python agents. `*`: every non-platform identity. */
  readonly legacyPeers: '*' | ReadonlySet<string>;
}

/**
 * How far a delivery's sender is believed: `proven` by user_id; `proxied` (published by the proxy
 * router's user for a ZeroMQ peer it hosts: identity and `user` header, the peer's CURVE-proven
 * user, are the proxy's word); `legacy` (unproven, a configured legacy peer: its own user
 * `<instance>.<identity>`); `anonymous` (unproven where proof is required: empty user);
 * `asserted` (unproven on a shared login: the header, as VOLTTRON).
 */
export type SenderTrust = 'proven' | 'proxied' | 'legacy' | 'anonymous' | 'asserted';

export interface SenderJudgement {
  readonly trust: SenderTrust;
  /** The VIP user to hand on instead of the header; undefined: the header. */
  readonly user?: string;
}

/** The policy of a receiver that knows nothing else: believe headers (the behaviour before proofs). */
export function assertedPolicy(instance: string): SenderPolicy {
  return { instance, proof: 'optional', legacyPeers: new Set() };
}

/**
 * Judge the sender of a delivery claiming `appId` (`<platform>.<identity>`) with AMQP `userId`
 * under `policy`. SpoofedSenderError when the user_id contradicts app_id, an agent user claims a
 * platform identity, or (proof required) a platform identity comes without the platform's user.
 */
export function judgeSender(userId: unknown, appId: string, policy: SenderPolicy, what: string): SenderJudgement | SpoofedSenderError {
  const { instance } = policy;
  const dot = appId.indexOf('.');
  const identity = appId.slice(dot + 1);
  const platformIdentity = appId.slice(0, dot) === instance && isPlatformIdentity(identity);
  const user = agentUserOf(userId, instance);
  if (user !== undefined && user === proxyBrokerUser(instance)) {
    // the proxy speaks as itself, or for a ZeroMQ peer of this instance; never as another platform identity
    if (appId === user) return { trust: 'proven', user };
    if (appId.slice(0, dot) === instance && !isPlatformIdentity(identity)) return { trust: 'proxied' };
    return new SpoofedSenderError(what, user, appId, `the proxy router's user may not act as ${JSON.stringify(appId)}`);
  }
  if (user === platformBrokerUser(instance)) {
    return platformIdentity ? { trust: 'proven', user: appId } : new SpoofedSenderError(what, user, appId);
  }
  if (user !== undefined) {
    if (appId !== user) return new SpoofedSenderError(what, user, appId);
    if (platformIdentity)
      return new SpoofedSenderError(
        what,
        user,
        appId,
        `agent user ${JSON.stringify(user)} may not act as the platform's ${JSON.stringify(identity)}`,
      );
    return { trust: 'proven', user };
  }
  const senderInstance = appId.slice(0, dot);
  const linkUser = senderInstance === instance ? undefined : agentUserOf(userId, senderInstance);
  if (linkUser !== undefined) {
    // another instance's sender with a user_id of that instance: this broker logged its publisher in
    // as that user. A user named `<other instance>.<identity>` here is a link's login (VOLTTRON's RPC
    // shovel logs in to the remote broker as `<its instance>.<caller>` and carries the caller's user_id,
    // checked by the caller's broker), so it proves exactly that sender and no other. (A shared user
    // such as guest names no instance: nothing proven, as below.)
    return linkUser === appId ? { trust: 'proven', user: linkUser } : new SpoofedSenderError(what, linkUser, appId);
  }
  if (policy.proof === 'optional') return { trust: 'asserted' };
  if (platformIdentity) return new UnprovenPlatformIdentityError(what, typeof userId === 'string' ? userId : '', appId, instance);
  const local = senderInstance === instance;
  if (local && (policy.legacyPeers === '*' || policy.legacyPeers.has(identity))) return { trust: 'legacy', user: appId };
  return { trust: 'anonymous', user: '' };
}
