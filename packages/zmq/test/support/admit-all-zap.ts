import { Router, type Context } from 'zeromq';
import { encodeKey } from '@vip/protocol';
import type { AdmissionSink, ZapMechanism } from '../../src/zap-contract.js';

/**
 * A ZAP responder for transport tests: admits every handshake as user `user-<identity of the key>`
 * and reports each admission to the sink, the way the real ZapHandler (src/auth) does.
 * Binds `inproc://zeromq.zap.01` in `context`, which must be the router's context.
 */
export class AdmitAllZap {
  readonly #socket: Router;
  readonly #loop: Promise<void>;
  admitted = 0;

  private constructor(socket: Router, sink: AdmissionSink) {
    this.#socket = socket;
    this.#loop = this.#serve(sink);
  }

  static async start(context: Context, sink: AdmissionSink): Promise<AdmitAllZap> {
    const socket = new Router({ context });
    await socket.bind('inproc://zeromq.zap.01');
    return new AdmitAllZap(socket, sink);
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
      const userId = `user-${key.slice(0, 8)}`;
      await this.#socket.send([rid, empty, version, requestId, '200', 'OK', userId, '']);
      this.admitted++;
      await sink.admitted({
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
