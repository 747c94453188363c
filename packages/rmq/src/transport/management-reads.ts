import type { QueueBinding, RabbitMqManagement } from '../admin/rabbitmq-management.js';
import { checkManagementUrl, type ManagementOptions } from './management-options.js';

export { checkManagementUrl, type ManagementOptions };

/**
 * The two management API reads outside broker administration: the router's peer sweep lists
 * queues, broker pubsub reads bindings (subscriber counts, `list`). The client that makes them
 * belongs to `@vip/rmq/admin` and is imported at the first read, so `@vip/rmq` and
 * `@vip/rmq/pubsub` do not load the management client (nor does a connection never given
 * management options). A bad base URL is still refused at construction.
 */
export class ManagementReads {
  readonly #options: ManagementOptions;
  #client: Promise<RabbitMqManagement> | undefined;

  constructor(options: ManagementOptions) {
    checkManagementUrl(options.baseUrl);
    this.#options = options;
  }

  async listQueues(vhost: string): Promise<Set<string>> {
    return (await this.#api()).listQueues(vhost);
  }

  async listBindings(vhost: string, exchange: string): Promise<QueueBinding[]> {
    return (await this.#api()).listBindings(vhost, exchange);
  }

  #api(): Promise<RabbitMqManagement> {
    return (this.#client ??= import('../admin/rabbitmq-management.js').then(({ RabbitMqManagement: Client }) => new Client(this.#options)));
  }
}
