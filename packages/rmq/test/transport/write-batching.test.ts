import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { corkPerTick } from '../../src/transport/write-batching.js';

/** A Writable recording each syscall-equivalent: one entry per _write/_writev with its chunks. */
function recorder(): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const tick = () => new Promise<void>((r) => process.nextTick(r));

describe('corkPerTick', () => {
  it('writes the first write of a tick at once and the rest of the tick as one writev, in order, by the end of the tick', async () => {
    const { stream, calls } = recorder();
    corkPerTick(stream);
    stream.write(Buffer.from('a'));
    expect(calls).toEqual([['a']]);
    stream.write(Buffer.from('b'));
    stream.write(Buffer.from('c'));
    stream.write(Buffer.from('d'));
    expect(calls).toEqual([['a']]);
    await tick();
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    stream.write(Buffer.from('lone'));
    expect(calls).toEqual([['a'], ['b', 'c', 'd'], ['lone']]);
    await tick();
    stream.write(Buffer.from('e'));
    stream.write(Buffer.from('f'));
    await tick();
    expect(calls).toEqual([['a'], ['b', 'c', 'd'], ['lone'], ['e'], ['f']]);
    expect(stream.writableCorked).toBe(0);
  });

  it('is undone by the returned function', async () => {
    const { stream, calls } = recorder();
    const undo = corkPerTick(stream);
    undo();
    stream.write(Buffer.from('x'));
    stream.write(Buffer.from('y'));
    await tick();
    expect(calls[0]).toEqual(['x']);
  });
});
