/**
 * Socket option values VOLTTRON uses on both ends of a VIP connection (docs/protocol.md 1.1), and the
 * router's memory limits. zeromq.js applies options only when given to the constructor (TOOLCHAIN.md).
 */
export const DEFAULT_HIGH_WATER_MARK = 6000;

export const TCP_KEEPALIVE = {
  tcpKeepalive: 1,
  tcpKeepaliveIdle: 180,
  tcpKeepaliveInterval: 20,
  tcpKeepaliveCount: 6,
} as const;

/** The ZAP domain VOLTTRON's router sets before binding its external addresses (auth.json's `domain`: @vip/auth). */
export { VIP_ZAP_DOMAIN } from '@vip/auth';

/**
 * Largest message the router accepts by default (bytes, all frames together). libzmq refuses a
 * bigger frame before reading it (ZMQ_MAXMSGSIZE, the sender's connection is closed); a frame set
 * whose frames add up to more is dropped and counted `oversize message`.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * What libzmq's ZMQ_MAXMSGSIZE must allow above a frame's payload: it checks the size on the wire,
 * and with CURVE a frame travels as a MESSAGE command (name, nonce, MAC, flags: 33 bytes more).
 */
export const WIRE_FRAME_OVERHEAD = 64;

/** Largest frame an agent's DEALER accepts by default (ZMQ_MAXMSGSIZE): a bound against a hostile router, not a VIP limit. */
export const DEFAULT_AGENT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * The router's ZMQ_SNDHWM: messages libzmq holds for one peer, so at most this x the largest
 * message in bytes. VOLTTRON uses 6000; the router's own queue (bounded in bytes) takes what does
 * not fit. Lower costs CPU on small messages (libzmq wakes its I/O thread more often): on the
 * forwarding benchmark router CPU per message was ~10% above 6000's at 512, ~25% at 256.
 */
export const DEFAULT_SEND_HIGH_WATER_MARK = 512;

/** Bytes the router queues for one peer whose socket pipe is full (beyond what libzmq holds). */
export const DEFAULT_PEER_QUEUE_BYTES = 16 * 1024 * 1024;

/** Messages the router queues for one peer whose socket pipe is full (as VOLTTRON's HWM counted them). */
export const DEFAULT_PEER_QUEUE_MESSAGES = 6000;

/** Bytes the router queues for all blocked peers together. */
export const DEFAULT_ROUTER_QUEUE_BYTES = 256 * 1024 * 1024;
