// Public API of @vip/zmq: every export is listed by name.
// Two owners during the first build-out: keep to your section.

// --- transport (VIP socket, router transport, agent connection) ---
export type { ZapMechanism, ZapAdmission, AdmissionSink, PendingAdmission, AdmissionAnswer } from './zap-contract.js';
export { ZmqRouterTransport } from './router-transport.js';
export type { SendLimits, RouterSenderStats } from './router-sender.js';
export type { ZmqRouterTransportOptions, ZmqRouterStats, ZmqRouterLimits } from './router-transport.js';
export type { SendBacklogStats } from './send-backlog.js';
export { ZmqConnection, AUTH_REFUSED_REASON } from './connection.js';
export { routerSocketIdentity } from './router-identity.js';
export { connectSocketOptions, bindSocketOptions } from './address-options.js';
export type { ConnectSocketOptions, BindSocketOptions } from './address-options.js';
export type { ZmqConnectionOptions, ZmqConnectionStats } from './connection.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_AGENT_MAX_FRAME_BYTES,
  DEFAULT_PEER_QUEUE_BYTES,
  DEFAULT_PEER_QUEUE_MESSAGES,
  DEFAULT_ROUTER_QUEUE_BYTES,
  DEFAULT_SEND_HIGH_WATER_MARK,
  VIP_ZAP_DOMAIN,
} from './socket-options.js';

// --- ZAP (CURVE admission; the decision, auth.json, keystores and known_hosts are @vip/auth's) ---
export { ZapHandler, ZAP_ENDPOINT } from './auth/zap-handler.js';
export type { ZapHandlerOptions, ZapHandlerStats, ZapRefusal } from './auth/zap-handler.js';
export { parseZapRequest, zapReply, ZAP_VERSION } from './auth/zap-request.js';
export type { ZapRequest, ZapParseResult } from './auth/zap-request.js';

// --- multi-platform: an outgoing link to another platform's router (docs/protocol.md 6.2) ---
export { ZmqPlatformLink } from './platform-link.js';
export type { ZmqPlatformLinkOptions, ZmqPlatformLinkStats, ZmqLinkState } from './platform-link.js';
