import {
  EMPTY_FRAME,
  identityKey,
  silentLogger,
  textFrame,
  type DeliveryResult,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';

export interface Delivered {
  readonly to: string;
  readonly from: string;
  readonly user: string;
  readonly id: string;
  readonly subsystem: string;
  readonly args: readonly Frame[];
}

/**
 * An in-memory RouterServices for unit tests of one RouterExtension (the PubSubService's): records
 * every delivery and lets a test choose each peer's delivery outcome ('hang' keeps the promise
 * pending until `release`). As the router does, a delivery that finds a peer it knows (one that
 * sent the extension something) unreachable drops it before the delivery resolves.
 */
export class MemoryRouterServices<E extends RouterExtension = RouterExtension> implements RouterServices {
  readonly instanceName = 'test-instance';
  readonly logger = silentLogger;
  readonly delivered: Delivered[] = [];
  readonly dropped: string[] = [];
  readonly counters = new Map<string, number>();
  readonly outcome = new Map<string, DeliveryResult | 'hang'>();
  /** Proven users of platform links (RouterServices.isPlatformLink). */
  readonly platformLinks = new Set<string>();
  readonly #hung: Array<() => void> = [];
  readonly #known = new Set<string>();
  readonly identity = textFrame('router');

  constructor(readonly service: E) {
    service.attach(this);
  }

  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    const key = identityKey(to);
    const outcome = this.outcome.get(key) ?? 'ok';
    if (outcome === 'hang') return new Promise((resolve) => this.#hung.push(() => resolve('ok')));
    if (outcome === 'ok') {
      this.delivered.push({
        to: key,
        from: from.toString(),
        user: user.toString(),
        id: id.toString(),
        subsystem: subsystem.toString(),
        args: [...args],
      });
    }
    if (outcome === 'unreachable' && this.#known.has(key)) this.dropPeer(to);
    return Promise.resolve(outcome);
  }

  replyError(m: RoutedMessage, user: Frame, errnum: number, text = String(errnum)): void {
    void this.deliver(m.sender, EMPTY_FRAME, user, m.id, textFrame('error'), [
      textFrame(String(errnum)),
      textFrame(text),
      EMPTY_FRAME,
      m.subsystem,
    ]);
  }

  addPeer(peer: Frame): void {
    this.#known.add(identityKey(peer));
  }

  peers(): Frame[] {
    return [...this.#known].map((k) => Buffer.from(k, 'latin1'));
  }

  hasPeer(peer: Frame): boolean {
    return this.#known.has(identityKey(peer));
  }

  holdUntil(until: Promise<unknown>): void {
    void until;
  }

  isPlatformLink(userId: string): boolean {
    return this.platformLinks.has(userId);
  }

  dropPeer(peer: Frame): void {
    this.#known.delete(identityKey(peer));
    this.dropped.push(identityKey(peer));
    this.service.peerDropped?.(peer);
  }

  count(counter: string, n = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + n);
  }

  release(): void {
    for (const r of this.#hung.splice(0)) r();
  }

  /**
   * Send `[sender, '', VIP1, user, id, 'pubsub', ...args]` to the extension as the router would:
   * `userId` is the user the transport proved, `userFrame` what the sender wrote in its user frame.
   */
  send(sender: string, args: ReadonlyArray<string | Frame | object>, id = 'm1', userId = sender, userFrame = ''): boolean {
    this.#known.add(identityKey(textFrame(sender)));
    const message: RoutedMessage = {
      sender: textFrame(sender),
      recipient: EMPTY_FRAME,
      user: textFrame(userFrame),
      id: textFrame(id),
      subsystem: textFrame('pubsub'),
      args: args.map((a) => (Buffer.isBuffer(a) ? a : textFrame(typeof a === 'string' ? a : JSON.stringify(a)))),
    };
    return this.service.handle(message, userId, message.user);
  }

  /** Deliveries to `to` (all subsystems), then forget them. */
  take(to?: string): Delivered[] {
    const out: Delivered[] = [];
    for (let i = 0; i < this.delivered.length; ) {
      const d = this.delivered[i] as Delivered;
      if (to === undefined || d.to === to) {
        out.push(d);
        this.delivered.splice(i, 1);
      } else i++;
    }
    return out;
  }
}
