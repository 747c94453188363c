import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { StatusFigures } from './status-board.js';

/** The Prometheus content type of `/metrics` (text format 0.0.4). */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

type Read = (f: StatusFigures) => number;
type ReadMap = (f: StatusFigures) => Record<string, number> | undefined;

/** A number at `path` of the transport's stats (0 when absent: the other bus, an older transport). */
function transport(...path: string[]): Read {
  return (f) => {
    let v: unknown = f.transport;
    for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : 0;
  };
}

interface Plain {
  readonly name: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly read: Read;
}

interface Labelled {
  readonly name: string;
  readonly help: string;
  readonly label: string;
  readonly read: ReadMap;
}

/**
 * Every metric `/metrics` serves, by name: the names are stable (README "Metrics"); a counter
 * ends in `_total`. Values are read from the platform's counters at scrape time.
 */
const ROUTER: readonly Plain[] = [
  {
    name: 'vip_router_received_messages_total',
    help: 'Routable messages the router received',
    kind: 'counter',
    read: (f) => f.router.received,
  },
  {
    name: 'vip_router_forwarded_messages_total',
    help: 'Messages forwarded peer to peer',
    kind: 'counter',
    read: (f) => f.router.forwarded,
  },
  {
    name: 'vip_router_handled_messages_total',
    help: 'Router-addressed messages handled by the router or a subsystem',
    kind: 'counter',
    read: (f) => f.router.handled,
  },
  { name: 'vip_router_peers', help: 'Peers the router knows now', kind: 'gauge', read: (f) => f.router.peers },
  {
    name: 'vip_router_peerlist_backlog',
    help: 'Peer events not yet sent to every peer that should hear of them',
    kind: 'gauge',
    read: (f) => f.router.peerlistBacklog,
  },
  {
    name: 'vip_tracker_enabled',
    help: '1 while the router message statistics (Tracker, vipctl stats enable) count',
    kind: 'gauge',
    read: (f) => (f.trackerEnabled ? 1 : 0),
  },
  {
    name: 'vip_pubsub_published_total',
    help: 'Publishes the router pubsub received',
    kind: 'counter',
    read: (f) => f.pubsub?.published ?? 0,
  },
  {
    name: 'vip_pubsub_delivered_total',
    help: 'Pubsub deliveries handed to the transport',
    kind: 'counter',
    read: (f) => f.pubsub?.delivered ?? 0,
  },
  {
    name: 'vip_pubsub_pending_deliveries',
    help: 'Pubsub deliveries waiting for the transport',
    kind: 'gauge',
    read: (f) => f.pubsub?.pending ?? 0,
  },
  {
    name: 'vip_pubsub_pending_bytes',
    help: 'Bytes of the pubsub deliveries waiting for the transport',
    kind: 'gauge',
    read: (f) => f.pubsub?.pendingBytes ?? 0,
  },
  {
    name: 'vip_pubsub_subscriptions',
    help: 'Subscriptions held (peer, platform, bus, prefix)',
    kind: 'gauge',
    read: (f) => f.pubsub?.subscriptions ?? 0,
  },
  {
    name: 'vip_pubsub_subscribers',
    help: 'Peers holding at least one subscription',
    kind: 'gauge',
    read: (f) => f.pubsub?.subscribers ?? 0,
  },
  { name: 'vip_agent_links', help: 'Agent links (peers) connected now', kind: 'gauge', read: (f) => f.links.connected },
  {
    name: 'vip_agent_links_joined_total',
    help: 'Agent links that joined since the platform started',
    kind: 'counter',
    read: (f) => f.links.joined,
  },
  {
    name: 'vip_agent_links_left_total',
    help: 'Agent links that left (agentstop, unreachable, disconnect)',
    kind: 'counter',
    read: (f) => f.links.left,
  },
];

const LABELLED: readonly Labelled[] = [
  {
    name: 'vip_router_dropped_messages_total',
    help: 'Frame sets the router dropped, by reason',
    label: 'reason',
    read: (f) => f.router.dropped,
  },
  {
    name: 'vip_router_errors_sent_total',
    help: 'VIP error messages the router sent, by errno',
    label: 'errno',
    read: (f) => f.router.errors,
  },
  {
    name: 'vip_pubsub_dropped_total',
    help: 'Pubsub deliveries dropped, by reason (again, unreachable, backlog, error)',
    label: 'reason',
    read: (f) => f.pubsub?.dropped,
  },
  { name: 'vip_pubsub_rejected_total', help: 'Pubsub requests refused, by reason', label: 'reason', read: (f) => f.pubsub?.rejected },
];

const ZMQ: readonly Plain[] = [
  {
    name: 'vip_zmq_received_messages_total',
    help: 'Frame sets the ZeroMQ router socket received',
    kind: 'counter',
    read: transport('received'),
  },
  {
    name: 'vip_zmq_delivered_messages_total',
    help: 'Messages the ZeroMQ router socket sent',
    kind: 'counter',
    read: transport('delivered'),
  },
  {
    name: 'vip_zmq_unreachable_total',
    help: 'Sends to a peer the ZeroMQ socket does not know',
    kind: 'counter',
    read: transport('unreachable'),
  },
  {
    name: 'vip_zmq_again_total',
    help: "Sends refused because the peer's queue was full (EAGAIN)",
    kind: 'counter',
    read: transport('again'),
  },
  {
    name: 'vip_zmq_pending_admissions',
    help: 'Connections admitted by CURVE and not yet attributed to a peer',
    kind: 'gauge',
    read: transport('pendingPeers'),
  },
  {
    name: 'vip_zmq_send_queue_messages',
    help: 'Messages queued behind a full peer socket',
    kind: 'gauge',
    read: transport('queued', 'messages'),
  },
  { name: 'vip_zmq_send_queue_bytes', help: 'Bytes queued behind full peer sockets', kind: 'gauge', read: transport('queued', 'bytes') },
];

const RMQ: readonly Plain[] = [
  {
    name: 'vip_rmq_received_messages_total',
    help: 'Messages the router consumed from its RabbitMQ queue',
    kind: 'counter',
    read: transport('received'),
  },
  {
    name: 'vip_rmq_delivered_messages_total',
    help: 'Messages the router published to peers and the broker confirmed',
    kind: 'counter',
    read: transport('delivered'),
  },
  { name: 'vip_rmq_invalid_total', help: 'Consumed messages refused as malformed or spoofed', kind: 'counter', read: transport('invalid') },
  {
    name: 'vip_rmq_spoofed_total',
    help: 'Consumed messages whose sender contradicted its broker user',
    kind: 'counter',
    read: transport('spoofed'),
  },
  {
    name: 'vip_rmq_unreachable_total',
    help: 'Deliveries returned by the broker (no queue for the peer)',
    kind: 'counter',
    read: transport('unreachable'),
  },
  {
    name: 'vip_rmq_again_total',
    help: 'Deliveries refused while reconnecting, nacked, too large or over the confirm backlog',
    kind: 'counter',
    read: transport('again'),
  },
  {
    name: 'vip_rmq_dead_letters_total',
    help: 'Dead-lettered messages handled as forwards',
    kind: 'counter',
    read: transport('deadLetters'),
  },
  {
    name: 'vip_rmq_dead_external_total',
    help: 'Dead-lettered messages of another instance (external calls to a peer not here), answered with error 113 over the link',
    kind: 'counter',
    read: transport('deadExternal'),
  },
  { name: 'vip_rmq_reconnects_total', help: "Reconnections of the router's broker link", kind: 'counter', read: transport('reconnects') },
  {
    name: 'vip_rmq_pending_confirm_bytes',
    help: 'Bytes published and not yet confirmed by the broker',
    kind: 'gauge',
    read: transport('pendingBytes'),
  },
];

/** The metric names served on a bus (README "Metrics", and the test that checks them). */
export function metricNames(bus: 'zmq' | 'rmq'): string[] {
  return [...ROUTER, ...LABELLED, ...(bus === 'zmq' ? ZMQ : RMQ)].map((m) => m.name);
}

/**
 * A prom-client registry over the platform's counters: the figures are read once per scrape (the
 * first metric collected reads them, the others reuse them until the scrape's turn of the event
 * loop ends), plus prom-client's process metrics.
 */
export function createMetricsRegistry(bus: 'zmq' | 'rmq', figures: () => StatusFigures): Registry {
  const registry = new Registry();
  let cached: StatusFigures | undefined;
  const read = (): StatusFigures => {
    if (!cached) {
      cached = figures();
      setImmediate(() => (cached = undefined)); // one scrape collects within a turn of the event loop
    }
    return cached;
  };
  for (const m of [...ROUTER, ...(bus === 'zmq' ? ZMQ : RMQ)]) {
    if (m.kind === 'gauge') {
      new Gauge({
        name: m.name,
        help: m.help,
        registers: [registry],
        collect() {
          this.set(m.read(read()));
        },
      });
    } else {
      new Counter({
        name: m.name,
        help: m.help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(m.read(read()));
        },
      });
    }
  }
  for (const m of LABELLED) {
    new Counter({
      name: m.name,
      help: m.help,
      labelNames: [m.label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(m.read(read()) ?? {})) if (n > 0) this.inc({ [m.label]: value }, n);
      },
    });
  }
  collectDefaultMetrics({ register: registry });
  return registry;
}
