// Public API of @vip/proxy-router: every export is listed by name.
export { ZmqProxyRouter } from './zmq-proxy-router.js';
export type { ProxyPlatformLinks, ZmqProxyRouterOptions, ZmqProxyRouterStats } from './zmq-proxy-router-options.js';
export { PeerPubSub } from './peer-pubsub.js';
export type { PeerPubSubOptions, ZmqSend } from './peer-pubsub.js';
export { ProxyPeerRefusedError } from './errors.js';
export { LinkPubSub } from './link-pubsub.js';
export type { LinkPubSubOptions, LinkPubSubStats, LinkTableForPubSub } from './link-pubsub.js';
