import type { Writable } from 'node:stream';
import type { ChannelModel } from 'amqplib';

/**
 * Write batching: amqplib writes every AMQP frame with its own `socket.write`, so one routed
 * message costs the platform several write syscalls. This corks the socket on the first write
 * of a tick and uncorks it on `process.nextTick`, so everything amqplib writes in one turn of
 * the event loop leaves in one `writev`. Order is kept (cork only buffers) and nothing waits
 * past the current tick. Returns the undo.
 *
 * The seam: amqplib's `ChannelModel.connection.stream` is the socket (net or TLS) all frames go
 * to (its frame mux and heartbeats call `stream.write`); wrapping that one instance's `write`
 * covers every channel of the connection without touching amqplib.
 */
export function corkPerTick(stream: Writable): () => void {
  const original = stream.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    stream.uncork();
  };
  const write = function (this: Writable, ...args: Parameters<Writable['write']>): boolean {
    if (!corked && !stream.writableEnded) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
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
  return stream !== null && typeof stream === 'object' && typeof (stream as Writable).cork === 'function' && typeof (stream as Writable).write === 'function'
    ? (stream as Writable)
    : undefined;
}
