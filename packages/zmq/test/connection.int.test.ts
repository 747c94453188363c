import { describe, expect, it, onTestFinished } from 'vitest';
import { Router } from 'zeromq';
import { frameText, textFrame, type ConnectionStatus, type VipMessage } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { ZmqConnection } from '../src/connection.js';

let n = 0;
const ipc = (): string => `ipc://@/vip-connection-test-${process.pid}-${++n}`;

async function rawRouter(): Promise<{ router: Router; endpoint: string }> {
  const router = new Router({ linger: 0 });
  onTestFinished(() => router.close());
  const endpoint = ipc();
  await router.bind(endpoint);
  return { router, endpoint };
}

function connection(identity: string, address: string, extra: Partial<ConstructorParameters<typeof ZmqConnection>[0]> = {}): ZmqConnection {
  const c = new ZmqConnection({ identity, address, ...extra });
  onTestFinished(() => c.close());
  return c;
}

describe('ZmqConnection', () => {
  it('sends VIP frames with its identity as routing id and decodes what it receives', async () => {
    const { router, endpoint } = await rawRouter();
    const c = connection('agent.one', endpoint);
    const inbox: VipMessage[] = [];
    c.onMessage((m) => inbox.push(m));
    await c.open();
    await c.send({
      peer: textFrame('other'),
      user: textFrame(''),
      id: textFrame('7'),
      subsystem: textFrame('RPC'),
      args: [textFrame('{}')],
    });
    const got = await router.receive();
    expect(got.map(String)).toEqual(['agent.one', 'other', 'VIP1', '', '7', 'RPC', '{}']);
    await router.send(['agent.one', 'garbage']);
    await router.send(['agent.one', 'other', 'VIP1', 'other', '8', 'RPC', 'reply']);
    await waitFor(() => inbox.length === 1, { what: 'the reply' });
    expect(frameText(inbox[0]?.peer as Buffer)).toBe('other');
    expect(c.stats()).toMatchObject({ sent: 1, received: 2, malformed: 1 });
  });

  it('queues sends issued together and delivers them in order', async () => {
    const { router, endpoint } = await rawRouter();
    const c = connection('agent.burst', endpoint);
    await c.open();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        c.send({ peer: textFrame(''), user: textFrame(''), id: textFrame(String(i)), subsystem: textFrame('ping'), args: [] }),
      ),
    );
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(String((await router.receive())[4]));
    expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('reports retrying while nobody listens and rejects open() at its deadline', async () => {
    const c = connection('agent.alone', 'tcp://127.0.0.1:1', { reconnectIntervalMs: 20, openTimeoutMs: 400 });
    const statuses: ConnectionStatus[] = [];
    c.onStatus((s) => statuses.push(s));
    await expect(c.open()).rejects.toMatchObject({ code: 'VIP_TIMEOUT' });
    expect(statuses.some((s) => s.type === 'retrying')).toBe(true);
    expect(statuses.at(-1)).toEqual({ type: 'closed' });
  });

  it('rejects a malformed address at construction with VIP_ADDRESS', () => {
    expect(() => new ZmqConnection({ identity: 'x', address: 'udp://127.0.0.1:1' })).toThrow(
      expect.objectContaining({ code: 'VIP_ADDRESS' }),
    );
  });

  it('reports disconnected when the router goes away', async () => {
    const { router, endpoint } = await rawRouter();
    const c = connection('agent.left', endpoint);
    const statuses: ConnectionStatus[] = [];
    c.onStatus((s) => statuses.push(s));
    await c.open();
    expect(statuses).toEqual([{ type: 'connected' }]);
    router.close();
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), { what: 'disconnected status' });
  });
});
