import {
  EMPTY_FRAME, ERRNO, frameText, identityKey, jsonFrame, textFrame,
  type DeliveryResult, type Frame, type RoutedMessage,
} from '@vip/protocol';
import type { PeerRegistry } from './peer-registry.js';

/** The bus a peer is on, as the RMQ router records it (docs/protocol.md 7.5). */
export type MessageBus = 'zmq' | 'rmq';

/** What the RMQ subsystems need of the router. */
export interface RmqSubsystemsHost {
  readonly peers: PeerRegistry;
  /** The instance name: errors from the broker side name recipients `<instance>.<identity>`. */
  readonly instanceName: string;
  reply(message: RoutedMessage, user: Frame, subsystem: Frame, args: readonly Frame[]): void;
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult>;
  dropPeer(peer: Frame): void;
  count(name: string): void;
}

const PEERLIST = textFrame('peerlist');
const LISTING_WITH_MESSAGEBUS = textFrame('listing_with_messagebus');
const ERROR = textFrame('error');
const MISSING_PEER = textFrame('missing peer');
const RMQ = textFrame('rmq');
const EHOSTUNREACH = String(ERRNO.EHOSTUNREACH);

/**
 * The router subsystems only an RMQ router serves (VOLTTRON `rmq_router.py` `handle_system`,
 * docs/protocol.md 7.5), on top of the common ones:
 * - `peerlist list_with_messagebus` -> `['listing_with_messagebus', json({identity: bus})]`;
 * - `peerlist add <peer> [bus]` / `drop <peer> [bus]` (sent by the ZMQ proxy for the peers it
 *   hosts) update the peer table and broadcast; the request is echoed back, as VOLTTRON does;
 * - `error` with errnum 113 (a router message the broker could not route) drops the recipient
 *   named in args[2], bare or as `<instance>.<identity>`; no reply.
 * Peer events (`peerlist add|drop <peer> <bus>`) go to RMQ peers only: peers the proxy hosts
 * have no queue, and a delivery to them would bounce.
 */
export class RmqSubsystems {
  readonly #host: RmqSubsystemsHost;
  /** Peers not on RabbitMQ (added by the proxy); every other known peer is on `rmq`. */
  readonly #notRmq = new Map<string, Frame>();

  constructor(host: RmqSubsystemsHost) {
    this.#host = host;
  }

  /** Handle a router-addressed message the common subsystems would get wrong; false = not ours. */
  handle(message: RoutedMessage): boolean {
    const subsystem = identityKey(message.subsystem);
    if (subsystem === 'peerlist') return this.#peerlist(message);
    if (subsystem === 'error') return this.#error(message);
    return false;
  }

  /** Broadcast a peer event (`add`/`drop`) to every RMQ peer, with the peer's bus as third arg. */
  announce(op: Frame, peer: Frame, bus: Frame = this.busOf(peer)): void {
    const h = this.#host;
    for (const p of h.peers.list()) {
      if (this.#notRmq.has(identityKey(p))) continue;
      void h.deliver(p, EMPTY_FRAME, EMPTY_FRAME, EMPTY_FRAME, PEERLIST, [op, peer, bus]);
    }
  }

  /** The bus a known peer is on (`rmq` unless the proxy said otherwise). */
  busOf(peer: Frame): Frame {
    return this.#notRmq.get(identityKey(peer)) ?? RMQ;
  }

  /** A peer left: forget its bus. */
  forget(peer: Frame): void {
    this.#notRmq.delete(identityKey(peer));
  }

  #peerlist(m: RoutedMessage): boolean {
    const op = m.args[0] === undefined ? '' : identityKey(m.args[0]);
    const h = this.#host;
    if (op === 'list_with_messagebus') {
      const table: Record<string, string> = {};
      for (const p of h.peers.list()) table[frameText(p)] = frameText(this.busOf(p));
      h.reply(m, EMPTY_FRAME, m.subsystem, [LISTING_WITH_MESSAGEBUS, jsonFrame(table)]);
      return true;
    }
    if (op !== 'add' && op !== 'drop') return false;
    const peer = m.args[1];
    if (peer === undefined || peer.length === 0) {
      h.count(`peerlist ${op} without peer`);
      h.reply(m, EMPTY_FRAME, m.subsystem, [ERROR, MISSING_PEER]);
      return true;
    }
    const bus = m.args[2] !== undefined && m.args[2].length > 0 ? m.args[2] : RMQ;
    if (op === 'add') this.#add(peer, bus);
    else h.dropPeer(peer);
    h.reply(m, EMPTY_FRAME, m.subsystem, m.args);
    return true;
  }

  #add(peer: Frame, bus: Frame): void {
    const h = this.#host;
    if (h.peers.has(peer)) return;
    this.announce(textFrame('add'), peer, bus);
    if (identityKey(bus) !== 'rmq') this.#notRmq.set(identityKey(peer), bus);
    h.peers.add(peer);
  }

  #error(m: RoutedMessage): boolean {
    const errnum = m.args[0];
    if (errnum === undefined || frameText(errnum) !== EHOSTUNREACH) return false;
    const recipient = m.args[2];
    const h = this.#host;
    if (recipient === undefined || recipient.length === 0) {
      h.count('error 113 without recipient');
      return true;
    }
    const prefix = `${h.instanceName}.`;
    const text = frameText(recipient);
    const bare = !h.peers.has(recipient) && text.startsWith(prefix) ? textFrame(text.slice(prefix.length)) : recipient;
    h.count('error 113: recipient dropped');
    h.dropPeer(bare);
    return true;
  }
}
