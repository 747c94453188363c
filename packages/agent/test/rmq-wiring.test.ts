import { expect, it } from 'vitest';
import { createRmqAgent } from '../src/rmq.js';
import { HelloTimeoutError } from '../src/index.js';

// Only the wiring: a real broker, but no VIP router behind it, so the hello goes unanswered.
// The full agent suite over RabbitMQ runs in tests/integration once an RMQ platform exists.
it('connects through RabbitMQ and fails the unanswered hello with HelloTimeoutError naming the broker', async () => {
  const agent = createRmqAgent({
    identity: 'agent.rmq.wiring',
    helloTimeoutMs: 500,
    rmq: { url: 'amqp://guest:guest@127.0.0.1:5672', vhost: '/', instanceName: 'wiringtest', declareTopology: true },
  });
  const err = await agent.start().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HelloTimeoutError);
  expect((err as Error).message).toContain('amqp://127.0.0.1:5672 (vhost /, instance wiringtest)');
  await agent.close();
});
