import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connectRmqAgent, createRmqAgent } from '../src/rmq.js';
import { HelloTimeoutError, NotStartedError } from '../src/index.js';

// Only the wiring: a real broker, but no VIP router behind it, so the hello goes unanswered.
// The full agent suite over RabbitMQ runs in tests/integration once an RMQ platform exists.
const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

it('connects through RabbitMQ and fails the unanswered hello with HelloTimeoutError naming the broker (no auth.json hint: the broker admits)', async () => {
  const agent = createRmqAgent({
    identity: 'agent.rmq.wiring',
    helloTimeoutMs: 500,
    rmq: { url: 'amqp://guest:guest@127.0.0.1:5672', vhost: '/', instanceName: 'wiringtest', declareTopology: true },
  });
  const err = await agent.start().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HelloTimeoutError);
  expect((err as Error).message).toContain('amqp://127.0.0.1:5672 (vhost /, instance wiringtest)');
  expect((err as Error).message).not.toContain('auth.json');
  await agent.close();
});

it('an agent used before start() says so and what to do (not "ClosedError: agent ... is closed")', async () => {
  const agent = createRmqAgent({
    identity: 'thermostat',
    rmq: { url: 'amqp://guest:guest@127.0.0.1:5672', vhost: '/', instanceName: 'wiringtest' },
  });
  for (const attempt of [() => agent.rpc.call('x', 'y'), () => agent.pubsub!.publish('devices/x', { message: 1 })]) {
    const err = await attempt().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotStartedError);
    expect(err).toMatchObject({
      code: 'VIP_CLOSED',
      message:
        'agent "thermostat" is not started: call await agent.start() first (connectZmqAgent and connectRmqAgent start the agent they return)',
    });
  }
  await agent.close();
  await expect(agent.rpc.call('x', 'y')).rejects.toThrow(/agent thermostat is closed/); // closed for good: said as such
});

it('connectRmqAgent({ identity }) reads keystores/<identity>/rmq.json (vipctl auth add --identity); without one, says how to make it', async () => {
  const home = await mkdtemp(join(tmpdir(), 'vip-agent-rmqjson-'));
  homes.push(home);
  await expect(connectRmqAgent({ identity: 'thermostat', vipHome: home })).rejects.toThrow(
    `no broker link for agent "thermostat": ${home}/keystores/thermostat/rmq.json does not exist; make it with vipctl auth add --identity thermostat on the platform's machine (or pass rmq options)`,
  );
  await mkdir(join(home, 'keystores', 'thermostat'), { recursive: true });
  const file = {
    url: 'amqp://guest:guest@127.0.0.1:5672',
    vhost: '/',
    instanceName: 'fromfile',
    identity: 'thermostat',
    user: 'fromfile.thermostat',
  };
  await writeFile(join(home, 'keystores', 'thermostat', 'rmq.json'), JSON.stringify(file));
  // the link is the file's: the unanswered hello names its broker, vhost and instance
  const err = await connectRmqAgent({ identity: 'thermostat', vipHome: home, helloTimeoutMs: 500 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HelloTimeoutError);
  expect((err as Error).message).toContain('amqp://127.0.0.1:5672 (vhost /, instance fromfile)');
  await writeFile(join(home, 'keystores', 'thermostat', 'rmq.json'), JSON.stringify({ ...file, identity: 'other' }));
  await expect(connectRmqAgent({ identity: 'thermostat', vipHome: home })).rejects.toThrow(
    /is the broker file of "other", not of "thermostat"/,
  );
  await writeFile(join(home, 'keystores', 'thermostat', 'rmq.json'), '{"url": 1}');
  await expect(connectRmqAgent({ identity: 'thermostat', vipHome: home })).rejects.toThrow(/rmq\.json is not a valid agent broker file/);
});
