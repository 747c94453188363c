import {
  ClosedError,
  EMPTY_FRAME,
  ERRNO,
  frameText,
  identityKey,
  jsonValueFrame,
  PEERLIST_ADD_FRAME,
  PEERLIST_DROP_FRAME,
  PEERLIST_ERRORS,
  PEERLIST_FRAME,
  peerlistError,
  peerlistListing,
  peerlistListingWithMessagebus,
  textFrame,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';
import { ROUTER_IDENTITY } from './amqp-mapping.js';
import { PROXY_IDENTITY, proxyBrokerUser } from './sender-trust.js';

const RMQ = textFrame('rmq');
const MISSING_PEER = peerlistError('missing peer');
const PROXY_ONLY = peerlistError("add and drop are the proxy router's");
const EHOSTUNREACH = String(ERRNO.EHOSTUNREACH);

/**
 * The `peerlist` and `error` subsystems of a router on RabbitMQ (VOLTTRON `rmq_router.py`
 * `handle_system`, docs/protocol.md 7.5), registered by whoever runs a Router over
 * RmqRouterTransport (`rmqRouterOptions`); they take the router's own `peerlist` and `error` over:
 * - `peerlist list` -> `listing, peers...` (missing or unknown op: `error, <why>`), as every router;
 * - `peerlist list_with_messagebus` -> `['listing_with_messagebus', json({identity: bus})]`;
 * - `peerlist add <peer> [bus]` / `drop <peer> [bus]` (sent by the ZMQ proxy for the peers it
 *   hosts) update the peer table and broadcast; the request is echoed back, as VOLTTRON does.
 *   Only the proxy may: sender `zmq.proxy.router` with its proven broker user
 *   `<instance>.zmq.proxy.router` (VOLTTRON takes them from anyone); others get `error` (counted
 *   `peerlist add refused` / `peerlist drop refused`);
 * - `error` with errnum 113 (a router message the broker could not route) drops the recipient
 *   named in args[2], bare or as `<instance>.<identity>`, without a reply; any other `error` is
 *   swallowed (counted `error to router ignored`).
 * Peer events (`peerlist add|drop <peer> <bus>`) go at once to every other peer, the ZeroMQ peers
 * of vip's proxy router included: it holds a queue `<instance>.<peer>` for each of them (VOLTTRON's
 * proxy has none, and skips them; vip's platform runs only vip's proxy).
 */
export class RmqPeerlistExtension implements RouterExtension {
  readonly subsystems = ['peerlist', 'error'] as const;
  /** Peers not on RabbitMQ (added by the proxy); every other known peer is on `rmq`. */
  readonly #notRmq = new Map<string, Frame>();
  #services: RouterServices | undefined;

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(message: RoutedMessage, userId: string): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('RmqPeerlistExtension (not attached to a router)');
    return identityKey(message.subsystem) === 'error' ? this.#error(services, message) : this.#peerlist(services, message, userId);
  }

  /** Tell every RMQ peer but the newcomer `peerlist add <peer> <bus>`. */
  peerAdded(peer: Frame): void {
    this.#announce(PEERLIST_ADD_FRAME, peer);
  }

  /** Tell every RMQ peer left `peerlist drop <peer> <bus>`, then forget the peer's bus. */
  peerDropped(peer: Frame): void {
    this.#announce(PEERLIST_DROP_FRAME, peer);
    this.#notRmq.delete(identityKey(peer));
  }

  /** The bus a known peer is on (`rmq` unless the proxy said otherwise). */
  busOf(peer: Frame): Frame {
    return this.#notRmq.get(identityKey(peer)) ?? RMQ;
  }

  #announce(op: Frame, peer: Frame): void {
    const services = this.#services;
    if (services === undefined) return;
    const args = [op, peer, this.busOf(peer)];
    for (const p of services.peers()) {
      if (p.equals(peer)) continue;
      void services.deliver(p, EMPTY_FRAME, EMPTY_FRAME, EMPTY_FRAME, PEERLIST_FRAME, args);
    }
  }

  #peerlist(services: RouterServices, m: RoutedMessage, userId: string): boolean {
    const op = m.args[0] === undefined ? undefined : identityKey(m.args[0]);
    const reply = (args: readonly Frame[]) => void services.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, args);
    switch (op) {
      case undefined:
        reply(peerlistError(PEERLIST_ERRORS.MISSING));
        return true;
      case 'list':
        reply(peerlistListing(services.peers()));
        return true;
      case 'list_with_messagebus': {
        const table: Record<string, string> = {};
        for (const p of services.peers()) table[frameText(p)] = frameText(this.busOf(p));
        reply(peerlistListingWithMessagebus(table));
        return true;
      }
      case 'add':
      case 'drop':
        break;
      default:
        reply(peerlistError(PEERLIST_ERRORS.UNKNOWN));
        return true;
    }
    if (identityKey(m.sender) !== PROXY_IDENTITY || userId !== proxyBrokerUser(services.instanceName)) {
      services.count(`peerlist ${op} refused`);
      reply(PROXY_ONLY);
      return true;
    }
    const peer = m.args[1];
    if (peer === undefined || peer.length === 0) {
      services.count(`peerlist ${op} without peer`);
      reply(MISSING_PEER);
      return true;
    }
    if (op === 'add') this.#add(services, peer, m.args[2] !== undefined && m.args[2].length > 0 ? m.args[2] : RMQ);
    else services.dropPeer(peer);
    reply(m.args);
    return true;
  }

  #add(services: RouterServices, peer: Frame, bus: Frame): void {
    if (services.hasPeer(peer)) return;
    if (identityKey(bus) !== 'rmq') this.#notRmq.set(identityKey(peer), bus);
    services.addPeer(peer);
  }

  #error(services: RouterServices, m: RoutedMessage): boolean {
    const errnum = m.args[0];
    if (errnum === undefined || frameText(errnum) !== EHOSTUNREACH) {
      services.count('error to router ignored');
      return true;
    }
    const recipient = m.args[2];
    if (recipient === undefined || recipient.length === 0) {
      services.count('error 113 without recipient');
      return true;
    }
    const prefix = `${services.instanceName}.`;
    const text = frameText(recipient);
    const bare = !services.hasPeer(recipient) && text.startsWith(prefix) ? textFrame(text.slice(prefix.length)) : recipient;
    services.count('error 113: recipient dropped');
    services.dropPeer(bare);
    return true;
  }
}

/**
 * What a Router over RmqRouterTransport needs (structurally `RouterOptions` of @vip/router): the
 * identity `router`, the RMQ peerlist/error subsystems followed by `extensions`, and control's
 * broker user `<instance>.control`. Spread it into the options:
 * `new Router({ transport, instanceName, ...rmqRouterOptions(instanceName, [pubsub]) })`.
 */
export function rmqRouterOptions(
  instanceName: string,
  extensions: readonly RouterExtension[] = [],
): { identity: string; controlUsers: string[]; extensions: RouterExtension[]; queryReply: typeof rmqQueryReply } {
  return {
    identity: ROUTER_IDENTITY,
    controlUsers: [`${instanceName}.control`],
    extensions: [new RmqPeerlistExtension(), ...extensions],
    queryReply: rmqQueryReply,
  };
}

/**
 * VOLTTRON's RMQ router answers `query` with `['', value, '']` where value is the Python object
 * itself in the JSON argument list (docs/protocol.md 7.5): a string as a string, `addresses` as a
 * list, None as null. The router writes the leading empty argument; this is the rest.
 */
export function rmqQueryReply(value: string | number | readonly string[] | null | undefined): Frame[] {
  return [typeof value === 'string' ? Buffer.from(value, 'utf8') : jsonValueFrame(value ?? null), EMPTY_FRAME];
}
