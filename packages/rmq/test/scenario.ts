import { onTestFinished } from 'vitest';
import { TransportError, type ConnectionStatus, type PeerEvent, type RoutedMessage, type VipMessage } from '@vip/protocol';
import { RmqConnection, RmqRouterTransport, type ManagementOptions } from '../src/index.js';
import { AMQP_URL, FAST_RECONNECT, Inbox } from './broker-fixture.js';

/**
 * A small RMQ "platform" for fault tests: a router transport with a minimal core (ping -> pong,
 * forwards, error 113) and agents whose inbound messages and statuses are recorded.
 */
const b = (s: string) => Buffer.from(s, 'latin1');

export interface Recorded<T> {
  readonly conn: T;
  readonly statuses: Inbox<ConnectionStatus>;
}

export interface ScenarioRouter extends Recorded<RmqRouterTransport> {
  readonly inbound: Inbox<{ readonly m: RoutedMessage; readonly userId: string }>;
  readonly events: Inbox<PeerEvent>;
}

export async function startScenarioRouter(
  vhost: string,
  options: { instanceName?: string; peerSweepMs?: number; management?: ManagementOptions } = {},
): Promise<ScenarioRouter> {
  const router = new RmqRouterTransport({
    url: AMQP_URL, vhost, instanceName: options.instanceName ?? 'inst', reconnect: FAST_RECONNECT, peerSweepMs: options.peerSweepMs ?? 0,
    ...(options.management ? { management: options.management } : {}),
  });
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

export async function startScenarioAgent(vhost: string, identity: string, instanceName = 'inst'): Promise<Recorded<RmqConnection> & { inbox: Inbox<VipMessage> }> {
  const conn = new RmqConnection({ url: AMQP_URL, vhost, instanceName, identity, reconnect: FAST_RECONNECT });
  const statuses = new Inbox<ConnectionStatus>();
  const inbox = new Inbox<VipMessage>();
  conn.onMessage(inbox.push);
  conn.onStatus(statuses.push);
  await conn.open();
  onTestFinished(() => conn.close());
  return { conn, statuses, inbox };
}

export const vip = (peer: string, subsystem: string, args: Buffer[], id = ''): VipMessage =>
  ({ peer: b(peer), user: b(''), id: b(id), subsystem: b(subsystem), args });

/**
 * Send up to `count` numbered messages from `from` to `to`, about one per millisecond; sends
 * rejected while disconnected (TransportError) are counted, not retried. Stops early on `stop()`.
 */
export function trafficLoop(from: RmqConnection, to: string, count: number) {
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
