import type { Context } from 'zeromq';
import { ZapHandler } from '../../src/auth/zap-handler.js';
import type { AuthDecision, AuthRequest } from '@vip/auth';
import type { AdmissionSink, ZapAdmission } from '../../src/zap-contract.js';

/** What the test responder does with one handshake (by the client's base64url public key). */
export type TestZapDecision =
  | { readonly refuse: true }
  | (Partial<Pick<ZapAdmission, 'userId' | 'identity' | 'capabilities'>> & { readonly refuse?: false });

/**
 * The real ZapHandler for transport tests, deciding by key instead of auth.json: every handshake
 * is admitted as user `user-<first 8 chars of the key>` (or as `decide` says).
 * Binds `inproc://zeromq.zap.01` in `context`, which must be the router's context.
 */
export class TestZap {
  readonly #handler: ZapHandler;

  private constructor(handler: ZapHandler) {
    this.#handler = handler;
  }

  static async start(context: Context, sink: AdmissionSink, decide: (key: string) => TestZapDecision = () => ({})): Promise<TestZap> {
    const authenticate = (request: AuthRequest): AuthDecision => {
      const d = decide(request.credential);
      if (d.refuse === true) return { admit: false, reason: 'denied' };
      return {
        admit: true,
        userId: d.userId ?? `user-${request.credential.slice(0, 8)}`,
        capabilities: d.capabilities ?? {},
        ...(d.identity !== undefined ? { identity: d.identity } : {}),
      };
    };
    const handler = new ZapHandler({
      authenticator: { authenticate },
      admissionSink: sink,
      context,
      refusalDelay: { firstMaxMs: 1, maxDelayMs: 1 },
    });
    await handler.start();
    return new TestZap(handler);
  }

  get admitted(): number {
    return this.#handler.stats().admitted;
  }

  close(): Promise<void> {
    return this.#handler.close();
  }
}
