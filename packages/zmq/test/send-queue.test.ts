import { describe, expect, it } from 'vitest';
import { SendQueue, type MultipartSender } from '../src/send-queue.js';

/** A socket like zeromq.js: one send in flight, a second throws EBUSY synchronously. */
class OneAtATime implements MultipartSender {
  readonly sent: string[] = [];
  #busy = false;
  send(frames: Buffer[]): Promise<void> {
    if (this.#busy) throw Object.assign(new Error('busy'), { code: 'EBUSY' });
    this.#busy = true;
    return new Promise((resolve) => {
      setImmediate(() => {
        this.#busy = false;
        this.sent.push(frames.map(String).join('|'));
        resolve();
      });
    });
  }
}

describe('SendQueue', () => {
  it('sends everything in order when callers do not wait for each other', async () => {
    const socket = new OneAtATime();
    const queue = new SendQueue(socket, 'test socket');
    await Promise.all(Array.from({ length: 50 }, (_, i) => queue.send([Buffer.from(String(i))])));
    expect(socket.sent).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('rejects queued and later sends with VIP_CLOSED after close()', async () => {
    const socket = new OneAtATime();
    const queue = new SendQueue(socket, 'test socket');
    const first = queue.send([Buffer.from('a')]);
    const queued = queue.send([Buffer.from('b')]);
    queue.close();
    queue.close();
    await expect(queued).rejects.toMatchObject({ code: 'VIP_CLOSED' });
    await expect(queue.send([Buffer.from('c')])).rejects.toMatchObject({ code: 'VIP_CLOSED' });
    await first;
    expect(socket.sent).toEqual(['a']);
  });

  it('passes socket errors other than EBUSY to the caller', async () => {
    const queue = new SendQueue({ send: () => Promise.reject(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })) }, 'test socket');
    await expect(queue.send([Buffer.from('a')])).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
  });
});
