import {
  ClosedError,
  ERRNO,
  frameText,
  identityKey,
  textFrame,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { ReservedIdentities } from '../reserved-identities.js';

export interface PeerControlOptions {
  /** The identity of the platform's control service; default `control` (VOLTTRON). */
  readonly controlIdentity?: string;
  /**
   * The proven users of the control service when `reserved` has no entry for its identity;
   * default the user named like the identity (`control`; the RabbitMQ platform passes
   * `<instance>.control`, its broker user).
   */
  readonly controlUsers?: readonly string[];
  /** The platform's reserved identities: their users of `controlIdentity` are control's users. */
  readonly reserved?: ReservedIdentities;
  /** Called when the control service sends `quit`: the platform should shut down. */
  readonly onQuit?: () => void;
  /** Clock in ms for rate-limited warnings. */
  readonly now?: () => number;
}

/**
 * `agentstop <identity>` and `quit` (docs/protocol.md 2.5), decided on the proven user, one rule
 * for every bus:
 * - `agentstop`: a peer may stop itself; only control's users may stop another. VOLTTRON obeys
 *   anyone, so any agent could silently cut another off: refused with error 13 `Permission denied`,
 *   counted `agentstop refused`. A sender with no user (the bus required a proof it did not give)
 *   may stop no one, not even the identity it claims: refused without a reply (the reply would go
 *   to the identity it claims), counted `agentstop refused` and `agentstop unproven`.
 * - `quit` from control's users stops the platform (`onQuit`); from anyone else it is unknown
 *   (error 93, as VOLTTRON, which trusts the identity `control` alone), counted `quit refused`.
 */
export class PeerControlExtension implements RouterExtension {
  readonly subsystems = ['agentstop', 'quit'] as const;
  readonly #control: string;
  readonly #controlKey: string;
  readonly #defaultUsers: ReadonlySet<string>;
  readonly #reserved: ReservedIdentities | undefined;
  readonly #onQuit: (() => void) | undefined;
  readonly #now: (() => number) | undefined;
  #services: RouterServices | undefined;
  #warn: RateLimitedLog | undefined;

  constructor(options: PeerControlOptions = {}) {
    this.#control = options.controlIdentity ?? 'control';
    this.#controlKey = identityKey(textFrame(this.#control));
    this.#defaultUsers = new Set(options.controlUsers ?? [this.#control]);
    this.#reserved = options.reserved;
    this.#onQuit = options.onQuit;
    this.#now = options.now;
  }

  attach(services: RouterServices): void {
    this.#services = services;
    this.#warn = new RateLimitedLog(services.logger, this.#now ? { now: this.#now } : {});
  }

  handle(m: RoutedMessage, userId: string, user: Frame): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('PeerControlExtension (not attached to a router)');
    return identityKey(m.subsystem) === 'quit' ? this.#quit(services, m, userId) : this.#agentstop(services, m, userId, user);
  }

  /** `agentstop <identity>`: drop that peer everywhere; no reply. */
  #agentstop(services: RouterServices, m: RoutedMessage, userId: string, user: Frame): boolean {
    const peer = m.args[0];
    if (peer === undefined || peer.length === 0) {
      services.count('agentstop without identity');
    } else if (userId.length === 0) {
      services.count('agentstop refused');
      services.count('agentstop unproven');
      this.#warn?.warn('router.agentstop.refused', {
        sender: frameText(m.sender),
        user: '',
        named: frameText(peer),
        why: 'unproven sender',
      });
    } else if (peer.equals(m.sender) || this.#isControl(userId)) {
      services.dropPeer(peer);
    } else {
      services.count('agentstop refused');
      this.#warn?.warn('router.agentstop.refused', { sender: frameText(m.sender), user: userId, named: frameText(peer) });
      services.replyError(m, user, ERRNO.EACCES, `Permission denied: agentstop of another peer is accepted only from ${this.#control}`);
    }
    return true;
  }

  #quit(services: RouterServices, m: RoutedMessage, userId: string): boolean {
    if (!this.#isControl(userId)) {
      services.count('quit refused');
      this.#warn?.warn('router.quit.refused', { sender: frameText(m.sender), user: userId });
      return false;
    }
    services.logger.info('router.quit', { sender: frameText(m.sender), user: userId });
    this.#onQuit?.();
    return true;
  }

  /** The proven user is one of the control service's users. */
  #isControl(userId: string): boolean {
    return (this.#reserved?.usersOf(this.#controlKey) ?? this.#defaultUsers).has(userId);
  }
}
