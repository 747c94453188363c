import type { Logger } from '@vip/protocol';
import { AuthFile, AuthFileWatcher, authFilePaths, PendingAuthStore, type AuthDecision, type AuthRequest, type AuthRules } from '@vip/auth';
import { ZapHandler, type AdmissionSink } from '@vip/zmq';
import { writeInitialAuth } from './initial-auth.js';
import { platformEntriesGuard } from './platform-entries.js';

/** Which CURVE keys are other platforms' links, and which user ids are theirs. */
export interface PlatformLinkAdmission {
  /** The link user of the platform whose key this is (43-char base64url), if any. */
  userForKey(key: string): string | undefined;
  isLinkUser(userId: string): boolean;
}

/**
 * CURVE authentication of the platform: auth.json (created on first start), a watcher that
 * reloads it on change, the pending store for refused keys, and the ZAP handler.
 */
export class PlatformAuth {
  readonly authFile: AuthFile;
  readonly watcher: AuthFileWatcher;
  readonly #pending: PendingAuthStore;
  readonly #vipHome: string;
  readonly #publicKey: string;
  readonly #logger: Logger;
  #zap: ZapHandler | undefined;
  #closed: Promise<void> | undefined;
  #links: PlatformLinkAdmission | undefined;

  constructor(options: { vipHome: string; platformPublicKey: string; logger: Logger }) {
    const paths = authFilePaths(options.vipHome);
    this.#vipHome = options.vipHome;
    this.#publicKey = options.platformPublicKey;
    this.#logger = options.logger;
    this.#pending = new PendingAuthStore({ path: paths.pendingFile, logger: options.logger });
    this.authFile = new AuthFile({ path: paths.authFile, pending: this.#pending });
    // a file that drops the platform's own entries (`{}`, a truncated write) is refused, as invalid JSON is
    const guard = platformEntriesGuard({ vipHome: options.vipHome, platformPublicKey: options.platformPublicKey, logger: options.logger });
    this.watcher = new AuthFileWatcher({ authFile: this.authFile, logger: options.logger, guard });
  }

  /** The platform's own public key (43-char base64url): its auth.json entry is the platform's user (vipctl's). */
  get platformPublicKey(): string {
    return this.#publicKey;
  }

  /** Write the first auth.json if needed, load and watch it; the ZAP handler starts with `startZap`. */
  async load(): Promise<void> {
    await writeInitialAuth({ authFile: this.authFile, vipHome: this.#vipHome, platformPublicKey: this.#publicKey, logger: this.#logger });
    await this.watcher.start();
    const s = this.watcher.stats();
    if (s.lastError) this.#logger.warn('auth.invalid', { path: this.authFile.path, error: s.lastError });
  }

  /** Called after each valid reload (the watcher logs `auth.reloaded` at info; test harnesses wait on it). */
  onReload(listener: (rules: AuthRules) => void): void {
    this.watcher.onChange(listener);
  }

  /**
   * Admit other platforms' links (the multi-platform routing service): a CURVE key that is a linked
   * platform's is admitted as that link's user before auth.json is asked, and an auth.json entry
   * whose user id is a link's is never admitted (no agent can become a link by naming itself one).
   */
  admitLinks(links: PlatformLinkAdmission): void {
    this.#links = links;
  }

  #authenticate(request: AuthRequest): AuthDecision {
    const links = this.#links;
    if (links !== undefined && request.mechanism === 'CURVE') {
      const userId = links.userForKey(request.credential);
      if (userId !== undefined) return { admit: true, userId, capabilities: {} };
    }
    const decision = this.watcher.authenticator.authenticate(request);
    if (decision.admit && links !== undefined && links.isLinkUser(decision.userId)) return { admit: false, reason: 'denied' };
    return decision;
  }

  /** Bind the ZAP handler; must run before the router binds (fail-open otherwise). */
  async startZap(admissionSink: AdmissionSink): Promise<void> {
    this.#zap = new ZapHandler({
      authenticator: { authenticate: (request) => this.#authenticate(request) },
      admissionSink,
      pending: this.#pending,
      logger: this.#logger,
    });
    await this.#zap.start();
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      await this.#zap?.close();
      await this.watcher.close();
      await this.#pending.close();
    })());
  }
}
