import type { RouterExtension, RouterServices } from '@vip/protocol';

/**
 * `error` addressed to the router: swallowed, counted `error to router ignored` (VOLTTRON logs
 * it). The RabbitMQ router takes `error` over (`RmqPeerlistExtension` in @vip/rmq: an error 113
 * names a recipient the broker could not reach).
 */
export class RouterErrorExtension implements RouterExtension {
  readonly subsystems = ['error'] as const;
  #services: RouterServices | undefined;

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(): boolean {
    this.#services?.count('error to router ignored');
    return true;
  }
}
