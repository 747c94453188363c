import { onTestFinished } from 'vitest';
import { Context, Dealer, curveKeyPair } from 'zeromq';
import { encodeKey, frameText, textFrame, type PeerEvent, type RoutedMessage } from '@vip/protocol';
import { AuthFileSchema, AuthRules, Authenticator } from '@vip/auth';
import { ZapHandler } from '../../src/auth/zap-handler.js';
import { ZmqRouterTransport, type ZmqRouterTransportOptions } from '../../src/router-transport.js';

/** A CURVE key pair in zeromq.js's Z85 form plus its base64url public key (as auth.json spells it). */
export interface TestKeys {
  readonly publicKey: string;
  readonly secretKey: string;
  readonly credential: string;
}

export function testKeys(): TestKeys {
  const k = curveKeyPair();
  return { ...k, credential: encodeKey(k.publicKey) };
}

/** One auth.json allow entry for `keys`; `identity` pins it. */
export function allow(keys: TestKeys, userId: string, options: { identity?: string; capabilities?: string[] } = {}) {
  return {
    credentials: keys.credential,
    user_id: userId,
    ...(options.identity !== undefined ? { identity: options.identity } : {}),
    capabilities: options.capabilities ?? [],
  };
}

/** What the test router saw: every message handed over, with the user id the transport gave it. */
export interface Routed {
  readonly sender: string;
  readonly user: string;
  readonly subsystem: string;
  readonly id: string;
  readonly args: string[];
}

/**
 * A real ZmqRouterTransport (tcp on loopback, CURVE, ZAP enforced) with the real ZapHandler
 * deciding from `allow` entries, and a tiny router on its handlers: `hello` is answered
 * `welcome` with the sender's user id in the user frame (as the platform does), `whoami` is
 * answered with the user id as its argument; every message is recorded.
 */
export async function authRouter(
  entries: unknown[],
  options: Partial<ZmqRouterTransportOptions> = {},
  hooks: { readonly onMessage?: (m: Routed) => void; readonly record?: boolean } = {},
) {
  const server = curveKeyPair();
  const context = new Context();
  const routed: Routed[] = [];
  const events: string[] = [];
  const transport = new ZmqRouterTransport({
    addresses: ['tcp://127.0.0.1:0'],
    secretKey: encodeKey(server.secretKey),
    context,
    ...options,
  });
  const authenticator = new Authenticator(new AuthRules(AuthFileSchema.parse({ allow: entries })), { trustSameUidIpc: false });
  const zap = new ZapHandler({ authenticator, admissionSink: transport, context, refusalDelay: { firstMaxMs: 10, maxDelayMs: 50 } });
  await zap.start();
  const reply = (m: RoutedMessage, user: string, args: string[]) =>
    void transport.deliver(
      m.sender,
      textFrame(''),
      textFrame(user),
      m.id,
      m.subsystem,
      args.map((a) => textFrame(a)),
    );
  await transport.start({
    message: (m, user) => {
      const r: Routed = {
        sender: frameText(m.sender),
        user,
        subsystem: frameText(m.subsystem),
        id: frameText(m.id),
        args: m.args.map((a) => frameText(a)),
      };
      if (hooks.record !== false) routed.push(r);
      hooks.onMessage?.(r);
      if (r.subsystem === 'hello') reply(m, user, ['welcome', '1.0', transport.routerIdentity, r.sender]);
      else if (r.subsystem === 'whoami') reply(m, user, [user]);
    },
    peerEvent: (e: PeerEvent) =>
      events.push(e.type === 'peer-connected' ? `connected:${frameText(e.peer)}:${e.user}` : `gone:${frameText(e.peer)}`),
  });
  onTestFinished(async () => {
    await transport.close();
    await zap.close();
  });
  const endpoint = transport.endpoints[0] as string;
  /** A raw CURVE DEALER with routing id `identity`. */
  const client = (identity: string, keys: TestKeys, extra: ConstructorParameters<typeof Dealer>[0] = {}): RawClient => {
    const dealer = new Dealer({
      context,
      routingId: identity,
      linger: 0,
      curveServerKey: server.publicKey,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      ...extra,
    });
    const c = new RawClient(identity, dealer);
    onTestFinished(() => c.close());
    dealer.connect(endpoint);
    return c;
  };
  return { transport, zap, routed, events, client, endpoint, context, serverKey: server.publicKey };
}

let ids = 0;

/** A DEALER that keeps every message it receives; `request` waits for the reply with its id. */
export class RawClient {
  readonly identity: string;
  readonly dealer: Dealer;
  readonly inbox: string[][] = [];
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(identity: string, dealer: Dealer) {
    this.identity = identity;
    this.dealer = dealer;
    this.#loop = (async () => {
      for (;;) {
        try {
          this.inbox.push((await dealer.receive()).map((f) => f.toString('latin1')));
        } catch {
          return;
        }
      }
    })();
  }

  send(frames: string[]): Promise<void> {
    return this.dealer.send(frames);
  }

  /** A router-addressed VIP message; returns its id. */
  async vip(subsystem: string, args: string[] = []): Promise<string> {
    const id = `${subsystem}.${++ids}`;
    await this.dealer.send(['', 'VIP1', '', id, subsystem, ...args]);
    return id;
  }

  /** The reply (DEALER frames `['', VIP1, user, id, subsystem, ...]`) to message `id`, if received. */
  replyTo(id: string): string[] | undefined {
    return this.inbox.find((f) => f[3] === id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.dealer.close();
    await this.#loop;
  }
}
