/**
 * Socket option values VOLTTRON uses on both ends of a VIP connection (PROTOCOL.md 1.1).
 * zeromq.js applies options only when given to the constructor (TOOLCHAIN.md).
 */
export const DEFAULT_HIGH_WATER_MARK = 6000;

export const TCP_KEEPALIVE = {
  tcpKeepalive: 1,
  tcpKeepaliveIdle: 180,
  tcpKeepaliveInterval: 20,
  tcpKeepaliveCount: 6,
} as const;

/** The ZAP domain VOLTTRON's router sets before binding its external addresses. */
export const VIP_ZAP_DOMAIN = 'vip';

/** Largest frame the router accepts by default (bytes); bigger frame sets are dropped and counted. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
