import { EMPTY_FRAME, textFrame, VIP_SIGNATURE, type Frame, type RouterExtension, type VipMessage } from '@vip/protocol';
import { AsyncQueue, MemoryTransport, type MemoryConnection } from '@vip/testing';
import { Router, type RouterOptions } from '../src/index.js';

export const f = (s: string): Frame => textFrame(s);
export const texts = (frames: readonly Frame[]): string[] => frames.map((x) => x.toString('latin1'));

export interface TestPeer {
  readonly conn: MemoryConnection;
  readonly inbox: AsyncQueue<VipMessage>;
  send(recipient: string, subsystem: string, args?: string[], id?: string): void;
  raw(frames: Frame[]): void;
}

/** A Router over a MemoryTransport, plus peers that collect what they receive. */
export async function routerHarness(
  options: Partial<RouterOptions> & { requiresProof?: boolean } = {},
  extensions: RouterExtension[] = [],
) {
  const transport = new MemoryTransport({ maxMessageBytes: 1 << 20, requiresProof: options.requiresProof ?? false });
  const router = new Router({ identity: 'router-id', ...options, transport, extensions: [...(options.extensions ?? []), ...extensions] });
  await router.start();
  const peers: TestPeer[] = [];
  const connect = async (identity: string, userId = ''): Promise<TestPeer> => {
    const conn = transport.connection(identity, { userId });
    const inbox = new AsyncQueue<VipMessage>();
    conn.onMessage((m) => inbox.push(m));
    await conn.open();
    const peer: TestPeer = {
      conn,
      inbox,
      send: (recipient, subsystem, args = [], id = 'm1') =>
        conn.sendFrames([f(recipient), VIP_SIGNATURE, EMPTY_FRAME, f(id), f(subsystem), ...args.map(f)]),
      raw: (frames) => conn.sendFrames(frames),
    };
    peers.push(peer);
    await router.poll();
    return peer;
  };
  /** Let every queued message be routed and delivered. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((r) => setImmediate(r));
      await router.poll();
    }
  };
  const close = async () => {
    await router.stop();
  };
  return { transport, router, connect, settle, close, peers };
}

/** The frames of a received message in DEALER order after the routing frame: peer, user, id, subsystem, args. */
export function view(m: VipMessage): string[] {
  return texts([m.peer, m.user, m.id, m.subsystem, ...m.args]);
}
