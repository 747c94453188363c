import type { Logger } from '@vip/protocol';
import { AuthFile, AuthFileWatcher, authFilePaths, PendingAuthStore, type AuthRules } from '@vip/auth';
import { ZapHandler, type AdmissionSink } from '@vip/zmq';
import { writeInitialAuth } from './initial-auth.js';
import { platformEntriesGuard } from './platform-entries.js';

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

  /** Bind the ZAP handler; must run before the router binds (fail-open otherwise). */
  async startZap(admissionSink: AdmissionSink): Promise<void> {
    this.#zap = new ZapHandler({
      authenticator: this.watcher.authenticator,
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
