import type { Writable } from 'node:stream';
import type { ChannelModel } from 'amqplib';

/**
 * Write batching: amqplib writes every AMQP frame with its own `socket.write`, so one routed
 * message costs the platform several write syscalls. The first write of a tick goes out at once
 * (a lone request or reply on a sequential request/reply path waits for nothing); a second write
 * in the same tick corks the socket, and `process.nextTick` uncorks it, so the rest of a burst
 * leaves in one `writev`. Order is kept (cork only buffers behind what was written) and nothing
 * waits past the current tick. Returns the undo.
 *
 * The seam: amqplib's `ChannelModel.connection.stream` is the socket (net or TLS) all frames go
 * to (its frame mux and heartbeats call `stream.write`); wrapping that one instance's `write`
 * covers every channel of the connection without touching amqplib.
 */
export function corkPerTick(stream: Writable): () => void {
  const original = stream.write;
  /** Writes seen this tick: 0 none, 1 one (written through), 2 more (corked). */
  let seen: 0 | 1 | 2 = 0;
  const endTick = (): void => {
    const corked = seen === 2;
    seen = 0;
    if (corked) stream.uncork();
  };
  const write = function (this: Writable, ...args: Parameters<Writable['write']>): boolean {
    if (seen === 0) {
      seen = 1;
      process.nextTick(endTick);
    } else if (seen === 1 && !stream.writableEnded) {
      seen = 2;
      stream.cork();
    }
    return Reflect.apply(original, stream, args) as boolean;
  };
  stream.write = write as Writable['write'];
  return () => {
    if (stream.write === write) stream.write = original;
  };
}

/** The socket under an amqplib connection, when it is where we expect it (amqplib 2.x `connection.stream`). */
export function connectionStream(model: ChannelModel): Writable | undefined {
  const stream = (model.connection as { stream?: unknown }).stream;
  return stream !== null &&
    typeof stream === 'object' &&
    typeof (stream as Writable).cork === 'function' &&
    typeof (stream as Writable).write === 'function'
    ? (stream as Writable)
    : undefined;
}
