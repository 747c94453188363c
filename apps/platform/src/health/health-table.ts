/**
 * VOLTTRON's platform service identities (`known_identities.py` PROCESS_IDENTITIES and the
 * proxy): `service_agent` is true for them in `get_platform_health`.
 */
export const PROCESS_IDENTITIES: ReadonlySet<string> = new Set([
  'platform.auth',
  'platform.web',
  'config.store',
  'control',
  'keydiscovery',
  'zmq.proxy.router',
  'platform.health',
]);
/** vctl's (and vipctl's) connection: left out of the report, as VOLTTRON does (it is there only while a command runs). */
const CONTROL_CONNECTION = 'control.connection';

/** One peer's row of `get_platform_health` (VOLTTRON's keys), plus its last alert. */
export interface PeerHealth {
  peer: string;
  service_agent: boolean;
  connected: string;
  last_heartbeat?: string;
  message?: unknown;
  /** vip: the last alert the agent published (`health.send_alert`): key, status and when. */
  last_alert?: { readonly key: string; readonly status: unknown; readonly time: string };
}

export interface HealthTableStats {
  readonly peers: number;
  readonly heartbeats: number;
  readonly alerts: number;
  /** Heartbeats or alerts from senders not added while the table was full. */
  readonly dropped: number;
}

/**
 * VOLTTRON's `format_timestamp(datetime.now())`: the local time, ISO 8601 with microseconds and no
 * offset (`2026-12-07T14:23:20.960642`), which is what Python clients parse back.
 */
export function pythonLocalTimestamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds() * 1000, 6)}`;
}

/**
 * The health of connected peers as VOLTTRON's HealthService keeps it: a row per peer from the
 * router's peer added event, updated by each `heartbeat/<identity>` publish (time and message),
 * removed when the peer drops. A heartbeat from a sender not seen added creates its row (as
 * VOLTTRON does; RabbitMQ agents publish through the broker). Bounded in rows (`maxPeers`).
 */
export class HealthTable {
  readonly #rows = new Map<string, PeerHealth>();
  readonly #now: () => Date;
  readonly #maxPeers: number;
  #heartbeats = 0;
  #alerts = 0;
  #dropped = 0;

  constructor(options: { readonly now?: () => Date; readonly maxPeers?: number } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#maxPeers = options.maxPeers ?? 100_000;
  }

  added(peer: string): void {
    this.#row(peer, true);
  }

  dropped(peer: string): void {
    this.#rows.delete(peer);
  }

  heartbeat(sender: string, message: unknown): void {
    const row = this.#row(sender, false);
    if (!row) return;
    this.#heartbeats += 1;
    row.last_heartbeat = pythonLocalTimestamp(this.#now());
    row.message = message;
  }

  alert(sender: string, key: string, status: unknown): void {
    const row = this.#row(sender, false);
    if (!row) return;
    this.#alerts += 1;
    row.last_alert = { key, status, time: pythonLocalTimestamp(this.#now()) };
  }

  /** `get_platform_health`: every row but vctl's connections, keyed by identity. */
  report(): Record<string, PeerHealth> {
    const out: Record<string, PeerHealth> = {};
    for (const [peer, row] of this.#rows)
      if (peer !== CONTROL_CONNECTION && !peer.startsWith(`${CONTROL_CONNECTION}.`)) out[peer] = { ...row };
    return out;
  }

  stats(): HealthTableStats {
    return { peers: this.#rows.size, heartbeats: this.#heartbeats, alerts: this.#alerts, dropped: this.#dropped };
  }

  #row(peer: string, connected: boolean): PeerHealth | undefined {
    const found = this.#rows.get(peer);
    if (found) {
      if (connected) found.connected = pythonLocalTimestamp(this.#now());
      return found;
    }
    if (this.#rows.size >= this.#maxPeers) {
      this.#dropped += 1;
      return undefined;
    }
    const row: PeerHealth = { peer, service_agent: PROCESS_IDENTITIES.has(peer), connected: pythonLocalTimestamp(this.#now()) };
    this.#rows.set(peer, row);
    return row;
  }
}
