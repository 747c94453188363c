import {
  ClosedError,
  EMPTY_FRAME,
  textFrame,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';

export interface HelloExtensionOptions {
  /**
   * Runs before each welcome: a promise delays the welcome (and the router-addressed messages that
   * arrive meanwhile) until it settles, undefined welcomes at once. Must not reject; a rejection
   * still welcomes. The RabbitMQ platform checks the sender's broker permissions here
   * (`HelloPermissionCheck` in @vip/rmq).
   */
  readonly beforeWelcome?: (sender: Frame, userId: string) => Promise<unknown> | undefined;
}

const WELCOME = textFrame('welcome');
const VERSION = textFrame('1.0');

/**
 * `hello` -> `welcome, 1.0, <router identity>, <sender>`, user = the sender's user
 * (docs/protocol.md 2.1). The router registers one; register another to add `beforeWelcome`.
 */
export class HelloExtension implements RouterExtension {
  readonly subsystems = ['hello'] as const;
  readonly #beforeWelcome: HelloExtensionOptions['beforeWelcome'];
  #services: RouterServices | undefined;

  constructor(options: HelloExtensionOptions = {}) {
    this.#beforeWelcome = options.beforeWelcome;
  }

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(m: RoutedMessage, userId: string, user: Frame): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('HelloExtension (not attached to a router)');
    const welcome = () =>
      void services.deliver(m.sender, EMPTY_FRAME, user, m.id, m.subsystem, [WELCOME, VERSION, services.identity, m.sender]);
    const wait = this.#beforeWelcome?.(m.sender, userId);
    if (wait === undefined) welcome();
    else services.holdUntil(wait.then(welcome, welcome));
    return true;
  }
}
