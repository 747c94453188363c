/**
 * libzmq's ZAP address of a peer on an ipc socket: `localhost:<uid>:<gid>:<pid>` (the peer's
 * credentials from SO_PEERCRED; the `localhost` is absent on some builds). The pid changes with
 * every run of the agent, so an entry keyed on it would stop matching when the agent restarts.
 */
const IPC_PEER = /^((?:localhost)?:\d+:\d+):\d+$/;

/** True for an ipc peer address (`localhost:uid:gid:pid`). */
export function isIpcPeerAddress(address: string): boolean {
  return IPC_PEER.test(address);
}

/**
 * The address without what changes between runs: `localhost:1000:1000:4242` ->
 * `localhost:1000:1000:*` (for keys: one pending line per key and local user, not per run);
 * any other address unchanged.
 */
export function stableAddressKey(address: string): string {
  return address.replace(IPC_PEER, '$1:*');
}

/**
 * An auth.json address for the peer (VOLTTRON's `/regex/` form, matched whole): an ipc peer
 * becomes "this local user and group, any process" (`/localhost:1000:1000:\d+/`); an IP stays as it is.
 */
export function approvedAddress(address: string): string {
  const m = IPC_PEER.exec(address);
  return m ? `/${m[1]}:\\d+/` : address;
}
