import {
  ClosedError,
  EMPTY_FRAME,
  textFrame,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';

const PONG = textFrame('pong');

/**
 * `ping, x, rest...` -> `pong, rest...`, user = the sender's user (docs/protocol.md 2.2). A `pong`
 * is a peer answering the router's own ping (the ZeroMQ transport's liveness probes): counted
 * (`ping pong ignored`) and never answered (VOLTTRON answers it with another pong).
 */
export class PingExtension implements RouterExtension {
  readonly subsystems = ['ping'] as const;
  #services: RouterServices | undefined;

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(m: RoutedMessage, _userId: string, user: Frame): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('PingExtension (not attached to a router)');
    const op = m.args[0];
    if (op !== undefined && op.equals(PONG)) {
      services.count('ping pong ignored');
      return true;
    }
    void services.deliver(m.sender, EMPTY_FRAME, user, m.id, m.subsystem, [PONG, ...m.args.slice(1)]);
    return true;
  }
}
