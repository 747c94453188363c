// The broker fixtures of @vip/testing with this package's VOLTTRON set-up (ensureVolttronBroker).
import { AMQP_URL, MANAGEMENT, vhostFixture } from '@vip/testing';
import { ensureVolttronBroker, RabbitMqManagement } from '../src/admin.js';

export { AMQP_URL, exclusiveBroker, FAST_RECONNECT, Inbox, MANAGEMENT, rabbitmqctl, type TestVhost } from '@vip/testing';
export const management = new RabbitMqManagement(MANAGEMENT);
export const freshVhost = vhostFixture({
  prepare: (vhost) => ensureVolttronBroker({ url: AMQP_URL, vhost, management: MANAGEMENT }),
  remove: (vhost) => management.deleteVhost(vhost),
});
