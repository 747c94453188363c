import {
  ClosedError,
  EMPTY_FRAME,
  ERRNO,
  frameText,
  textFrame,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
  type VipMessage,
} from '@vip/protocol';
import type { PlatformLinkTable } from './platform-table.js';

const ROUTING_TABLE = textFrame('routing_table');
const HELLO = textFrame('hello');
const WELCOME = textFrame('welcome');

/** errnum of the `error` answers: EINVAL for a malformed message, EOPNOTSUPP for an unknown op. */
const EINVAL = 22;
const EOPNOTSUPP = 95;

/** Operations VOLTTRON's KeyDiscoveryAgent sends its router; here key discovery calls the routing service directly. */
const DISCOVERY_OPS = new Set(['normalmode_platform_connection', 'setupmode_platform_connection', 'web-addresses']);

/**
 * The `routing_table` subsystem (docs/protocol.md 6.2) between platforms: a link's `hello | hello |
 * <name>` is answered `hello | welcome | <own name>` (VOLTTRON 9 means to and never does), a
 * `welcome` marks the link's handshake done, `request_response` and `update` are ignored as
 * VOLTTRON does. Only a remote platform's link (its key proven, `PlatformLinkTable.has`) is heard:
 * a local agent writing these frames is refused with EACCES, and so is a link sending the key
 * discovery operations, which this platform's key discovery hands the routing service in-process.
 *
 * On every link that comes up this platform sends its own `hello`, and what remote routers answer
 * on our links for `routing_table` comes here too (`PlatformLinkTable.arrived`).
 */
export class RoutingTableExtension implements RouterExtension {
  readonly subsystems = ['routing_table'] as const;
  readonly name = 'routing_table';
  readonly #table: PlatformLinkTable;
  #services: RouterServices | undefined;
  #helloSent = 0;
  #welcomesSent = 0;
  #welcomed = 0;
  #refused = 0;
  #invalid = 0;

  constructor(table: PlatformLinkTable) {
    this.#table = table;
  }

  attach(services: RouterServices): void {
    this.#services = services;
    this.#table.attach(services);
    this.#table.onLinkMessage('routing_table', (instance, m) => this.#fromOurLink(instance, m));
    this.#table.onConnected((instance) => {
      const name = textFrame(this.#table.instanceName);
      if (this.#table.send(instance, EMPTY_FRAME, EMPTY_FRAME, ROUTING_TABLE, [HELLO, HELLO, name])) this.#helloSent++;
    });
  }

  handle(m: RoutedMessage, userId: string, user: Frame): boolean {
    const services = this.#svc();
    const instance = this.#table.instanceOf(userId);
    const op = m.args[0] === undefined ? '' : frameText(m.args[0]);
    if (instance === undefined) {
      this.#refused++;
      services.replyError(m, user, ERRNO.EACCES, `Permission denied: routing_table ${op} is accepted only from a link of a known platform`);
      return true;
    }
    this.#table.incomingSeen(instance, m.sender);
    switch (op) {
      case 'hello':
        return (
          this.#hello(instance, m.args, (reply) => void services.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, ROUTING_TABLE, reply)),
          true
        );
      case 'request_response':
      case 'update':
        return true; // VOLTTRON ignores both (update is its unused, broken table exchange)
      case '':
        this.#invalid++;
        services.replyError(m, user, EINVAL, 'Invalid argument: routing_table message without an operation');
        return true;
      default:
        if (DISCOVERY_OPS.has(op)) {
          this.#refused++;
          services.replyError(m, user, ERRNO.EACCES, `Permission denied: routing_table ${op} comes from this platform's own key discovery`);
          return true;
        }
        this.#invalid++;
        services.replyError(m, user, EOPNOTSUPP, `Operation not supported: routing_table ${JSON.stringify(op.slice(0, 64))}`);
        return true;
    }
  }

  stats(): Record<string, number> {
    return {
      hello_sent: this.#helloSent,
      welcomes_sent: this.#welcomesSent,
      welcomed: this.#welcomed,
      refused: this.#refused,
      invalid: this.#invalid,
      ...Object.fromEntries(Object.entries(this.#table.stats()).map(([k, v]) => [`links.${k}`, v])),
    };
  }

  async close(): Promise<void> {
    await this.#table.close();
  }

  /** `hello | hello | name` -> welcome; `hello | welcome | name` -> handshake done. Names must be the link's own. */
  #hello(instance: string, args: readonly Frame[], reply: (args: Frame[]) => void): void {
    const kind = args[1] === undefined ? '' : frameText(args[1]);
    const name = args[2] === undefined ? '' : frameText(args[2]);
    if (name !== instance) {
      // The name a remote writes is not what we trust (its key is); a mismatch is a configuration error worth seeing.
      this.#services?.count('routing_table: hello name mismatch');
      this.#services?.logger.warn('routing_table.hello.name_mismatch', { link: instance, named: name.slice(0, 64) });
    }
    if (kind === 'hello') {
      this.#welcomesSent++;
      reply([HELLO, WELCOME, textFrame(this.#table.instanceName)]);
    } else if (kind === 'welcome') {
      this.#welcomed++;
      this.#table.welcomed(instance);
    } else {
      this.#invalid++;
    }
  }

  /** What a remote router answers on our link: its welcome, or its errors (counted). */
  #fromOurLink(instance: string, m: VipMessage): void {
    const op = m.args[0] === undefined ? '' : frameText(m.args[0]);
    if (op === 'hello') this.#hello(instance, m.args, () => undefined);
  }

  #svc(): RouterServices {
    if (this.#services === undefined) throw new ClosedError('RoutingTableExtension (not attached to a router)');
    return this.#services;
  }
}
