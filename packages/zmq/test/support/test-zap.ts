import { Router, type Context } from 'zeromq';
import { encodeKey } from '@vip/protocol';
import type { AdmissionSink, ZapAdmission, ZapMechanism } from '../../src/zap-contract.js';

/** What the test responder does with one handshake (by the client's base64url public key). */
export type TestZapDecision =
  | { readonly refuse: true }
  | (Partial<Omit<ZapAdmission, 'mechanism' | 'credential' | 'address' | 'domain'>> & {
      readonly refuse?: false;
      /** Report the admission this much later than the reply (lets the connect notification win the race). */
      readonly reportAfterMs?: number;
    });

/**
 * A ZAP responder for transport tests: admits every handshake as user `user-<first 8 chars of the
 * key>` (or as `decide` says) and reports each admission to the sink, the way the real ZapHandler
 * (src/auth) does: reply first, then `admitted()`, one request at a time.
 * Binds `inproc://zeromq.zap.01` in `context`, which must be the router's context.
 */
export class TestZap {
  readonly #socket: Router;
  readonly #loop: Promise<void>;
  admitted = 0;

  readonly #decide: (key: string) => TestZapDecision;

  private constructor(socket: Router, sink: AdmissionSink, decide: (key: string) => TestZapDecision) {
    this.#socket = socket;
    this.#decide = decide;
    this.#loop = this.#serve(sink);
  }

  static async start(context: Context, sink: AdmissionSink, decide: (key: string) => TestZapDecision = () => ({})): Promise<TestZap> {
    const socket = new Router({ context });
    await socket.bind('inproc://zeromq.zap.01');
    return new TestZap(socket, sink, decide);
  }

  async #serve(sink: AdmissionSink): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch {
        return; // socket closed
      }
      const [rid, empty, version, requestId, domain, address, , mechanism, credential] = frames;
      if (rid === undefined || empty === undefined || version === undefined || requestId === undefined) continue;
      const key = credential !== undefined && credential.length === 32 ? encodeKey(credential) : '';
      const decision = this.#decide(key);
      if (decision.refuse === true) {
        await this.#socket.send([rid, empty, version, requestId, '400', 'refused', '', '']);
        continue;
      }
      const { refuse: _refuse, reportAfterMs, ...granted } = decision;
      const userId = granted.userId ?? `user-${key.slice(0, 8)}`;
      await this.#socket.send([rid, empty, version, requestId, '200', 'OK', userId, '']);
      this.admitted++;
      if (reportAfterMs !== undefined) await new Promise<void>((r) => setTimeout(r, reportAfterMs));
      await sink.admitted({
        ...granted,
        userId,
        mechanism: String(mechanism) as ZapMechanism,
        credential: key,
        address: String(address),
        domain: String(domain),
      });
    }
  }

  async close(): Promise<void> {
    this.#socket.close();
    await this.#loop;
  }
}
