import { describe, expect, it } from 'vitest';
import { PEERLIST_ERRORS } from '../src/payloads.js';
import {
  PEERLIST_ADD_FRAME,
  PEERLIST_DROP_FRAME,
  PEERLIST_FRAME,
  peerlistError,
  peerlistListing,
  peerlistListingWithMessagebus,
} from '../src/peerlist-frames.js';

const texts = (frames: readonly Buffer[]) => frames.map((f) => f.toString('latin1'));

describe('peerlist frames (shared by the ZeroMQ and RabbitMQ routers)', () => {
  it('names the subsystem and the event ops', () => {
    expect(texts([PEERLIST_FRAME, PEERLIST_ADD_FRAME, PEERLIST_DROP_FRAME])).toEqual(['peerlist', 'add', 'drop']);
  });

  // the JSON as Python's json.dumps writes it (jsonFrame), as VOLTTRON's RMQ router answers
  it('builds listing, listing_with_messagebus and error replies byte for byte', () => {
    expect(texts(peerlistListing([Buffer.from('a'), Buffer.from('b')]))).toEqual(['listing', 'a', 'b']);
    expect(texts(peerlistListing([]))).toEqual(['listing']);
    expect(texts(peerlistListingWithMessagebus({ a: 'rmq', b: 'zmq' }))).toEqual(['listing_with_messagebus', '{"a": "rmq", "b": "zmq"}']);
    expect(texts(peerlistError(PEERLIST_ERRORS.MISSING))).toEqual(['error', 'missing operation']);
    expect(texts(peerlistError(PEERLIST_ERRORS.UNKNOWN))).toEqual(['error', 'unknown operation']);
    expect(texts(peerlistError('missing peer'))).toEqual(['error', 'missing peer']);
  });
});
