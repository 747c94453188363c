/**
 * The authenticated links of this platform to other platforms, by the user id the bus proved for
 * each link (on ZeroMQ the user of the remote platform key's ZAP admission). The router and its
 * extensions consult it before accepting a platform-level operation (`external_publish`,
 * `external_list`, the link side of `routing_table`/`external_rpc`); the multi-platform routing
 * service fills it as links come and go. Without that service there are none.
 */
export interface PlatformLinks {
  /** True when `userId` (proven by the transport, never a frame a peer wrote) is a platform link. */
  has(userId: string): boolean;
}

/** No platform links: every platform-level operation is refused. */
export const NO_PLATFORM_LINKS: PlatformLinks = Object.freeze({ has: () => false });
