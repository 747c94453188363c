import { describe, expect, it, onTestFinished } from 'vitest';
import * as zmq from 'zeromq';
import { generateKeyPair, keyToZ85 } from '../src/keys.js';

/** Races a promise against a deadline; a deadline hit fails the test. */
async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('generateKeyPair with libzmq CURVE', () => {
  it('a generated pair serves a CURVE handshake and a message round trip on 127.0.0.1', async () => {
    const server = generateKeyPair();
    const client = zmq.curveKeyPair();
    const router = new zmq.Router({ curveServer: true, curveSecretKey: keyToZ85(server.secret), linger: 0 });
    onTestFinished(() => router.close());
    await router.bind('tcp://127.0.0.1:*');
    const endpoint = router.lastEndpoint as string;
    const dealer = new zmq.Dealer({
      curveServerKey: keyToZ85(server.public),
      curvePublicKey: client.publicKey,
      curveSecretKey: client.secretKey,
      routingId: 'curve-check',
      linger: 0,
    });
    onTestFinished(() => dealer.close());
    dealer.connect(endpoint);
    await dealer.send('ping');
    const [id, body] = await withDeadline(router.receive(), 5_000, 'router receive over CURVE');
    expect(id?.toString()).toBe('curve-check');
    expect(body?.toString()).toBe('ping');
    await router.send([id as Buffer, 'pong']);
    const [reply] = await withDeadline(dealer.receive(), 5_000, 'dealer receive over CURVE');
    expect(reply?.toString()).toBe('pong');
  });
});
