import { onTestFinished } from 'vitest';
import {
  TransportError,
  type AgentConnection,
  type ConnectionStatus,
  type PeerEvent,
  type RoutedMessage,
  type RouterTransport,
  type VipMessage,
} from '@vip/protocol';
import { Inbox } from './rabbitmq-broker.js';

/**
 * A small "platform" for fault tests over any transport (the RabbitMQ ones: a broker restart,
 * reconnects): a router transport with a minimal core (ping -> pong, forwards, error 113) and
 * agents whose inbound messages and statuses are recorded. The caller builds the transport.
 */
const b = (s: string) => Buffer.from(s, 'latin1');

export interface Recorded<T> {
  readonly conn: T;
  readonly statuses: Inbox<ConnectionStatus>;
}

export interface ScenarioRouter<T> extends Recorded<T> {
  readonly inbound: Inbox<{ readonly m: RoutedMessage; readonly userId: string }>;
  readonly events: Inbox<PeerEvent>;
}

/** A router transport with status events (both VIP transports have them). */
export type StatusRouterTransport = RouterTransport & { onStatus(listener: (status: ConnectionStatus) => void): unknown };

/** Start `router` with the minimal core; closed when the test finishes. */
export async function startScenarioRouter<T extends StatusRouterTransport>(router: T): Promise<ScenarioRouter<T>> {
  const statuses = new Inbox<ConnectionStatus>();
  const inbound = new Inbox<{ m: RoutedMessage; userId: string }>();
  const events = new Inbox<PeerEvent>();
  router.onStatus(statuses.push);
  await router.start({
    peerEvent: events.push,
    message: (m, userId) => {
      inbound.push({ m, userId });
      void (async () => {
        if (m.recipient.length === 0) {
          await router.deliver(m.sender, b(''), m.sender, m.id, m.subsystem, [b('pong'), ...m.args.slice(1)]);
          return;
        }
        const r = await router.deliver(m.recipient, m.sender, m.sender, m.id, m.subsystem, m.args);
        if (r === 'unreachable') {
          await router.deliver(m.sender, b(''), m.sender, m.id, b('error'), [b('113'), b('No route to host'), m.recipient, m.subsystem]);
        }
      })();
    },
  });
  onTestFinished(() => router.close());
  return { conn: router, statuses, inbound, events };
}

/** Open `conn` with its messages and statuses recorded; closed when the test finishes. */
export async function startScenarioAgent<T extends AgentConnection>(conn: T): Promise<Recorded<T> & { inbox: Inbox<VipMessage> }> {
  const statuses = new Inbox<ConnectionStatus>();
  const inbox = new Inbox<VipMessage>();
  conn.onMessage(inbox.push);
  conn.onStatus(statuses.push);
  await conn.open();
  onTestFinished(() => conn.close());
  return { conn, statuses, inbox };
}

export const vip = (peer: string, subsystem: string, args: Buffer[], id = ''): VipMessage => ({
  peer: b(peer),
  user: b(''),
  id: b(id),
  subsystem: b(subsystem),
  args,
});

/**
 * Send up to `count` numbered messages from `from` to `to`, about one per millisecond; sends
 * rejected while disconnected (TransportError) are counted, not retried. Stops early on `stop()`.
 */
export function trafficLoop(from: AgentConnection, to: string, count: number) {
  let rejected = 0;
  let sent = 0;
  let stopped = false;
  const done = (async () => {
    for (let i = 0; i < count && !stopped; i++) {
      try {
        await from.send(vip(to, 'RPC', [b(`n${i}`)], `t-${i}`));
        sent += 1;
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        rejected += 1;
      }
      await new Promise<void>((r) => setTimeout(r, 1)); // pace: traffic must outlast the fault
    }
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
    get rejected() {
      return rejected;
    },
    get sent() {
      return sent;
    },
  };
}

/** Wait for disconnected, then connected again, on one recorded connection. */
export async function reconnected(statuses: Inbox<ConnectionStatus>, what: string, timeoutMs = 30_000): Promise<void> {
  const down = await statuses.next((s) => s.type === 'disconnected', timeoutMs, `${what} disconnected`);
  const after = statuses.items.indexOf(down);
  await statuses.next((s) => s.type === 'connected' && statuses.items.indexOf(s) > after, timeoutMs, `${what} connected again`);
}
