import { jsonFrame } from './frame-values.js';
import { textFrame, type Frame } from './frames.js';
import { PEERLIST_ERRORS } from './payloads.js';

// The frames of `peerlist` (docs/protocol.md 2.3, 7.5) as every router writes them: the ZeroMQ
// router's PeerlistExtension (@vip/router) and the RabbitMQ router's RmqPeerlistExtension (@vip/rmq).
// The frames are shared buffers: never written to.

/** The subsystem frame `peerlist`. */
export const PEERLIST_FRAME: Frame = textFrame('peerlist');
/** The ops of the router's peer events (`peerlist add|drop <peer> [bus]`) and of the proxy's requests. */
export const PEERLIST_ADD_FRAME: Frame = textFrame('add');
export const PEERLIST_DROP_FRAME: Frame = textFrame('drop');
/** Op of the RabbitMQ router's answer to `list_with_messagebus`. */
export const LISTING_WITH_MESSAGEBUS_OP = 'listing_with_messagebus';

const LISTING = textFrame('listing');
const LISTING_WITH_MESSAGEBUS = textFrame(LISTING_WITH_MESSAGEBUS_OP);
const ERROR = textFrame('error');
const MISSING_OP = textFrame(PEERLIST_ERRORS.MISSING);
const UNKNOWN_OP = textFrame(PEERLIST_ERRORS.UNKNOWN);

/** `['listing', peers...]`: the answer to `peerlist list`. */
export function peerlistListing(peers: readonly Frame[]): Frame[] {
  return [LISTING, ...peers];
}

/** `['listing_with_messagebus', json({identity: bus})]`: the RabbitMQ router's answer to `list_with_messagebus`. */
export function peerlistListingWithMessagebus(busByIdentity: Readonly<Record<string, string>>): Frame[] {
  return [LISTING_WITH_MESSAGEBUS, jsonFrame(busByIdentity)];
}

/** `['error', why]`: a peerlist request the router does not serve. */
export function peerlistError(why: string): Frame[] {
  if (why === PEERLIST_ERRORS.MISSING) return [ERROR, MISSING_OP];
  if (why === PEERLIST_ERRORS.UNKNOWN) return [ERROR, UNKNOWN_OP];
  return [ERROR, textFrame(why)];
}
