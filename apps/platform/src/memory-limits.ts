import { z } from 'zod';
import { ConfigError } from '@vip/protocol';
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PEER_QUEUE_BYTES, DEFAULT_PEER_QUEUE_MESSAGES, DEFAULT_ROUTER_QUEUE_BYTES } from '@vip/zmq';

/**
 * How much memory the router may spend on messages (README "Memory"): the largest message it
 * takes, and what it queues for peers that do not read, per peer and for all.
 */
export interface MemoryLimits {
  /** Largest message, all frames together (ZeroMQ: also the largest frame libzmq reads; RabbitMQ: the largest body). */
  readonly maxMessageBytes: number;
  /** Bytes queued for one peer that does not read (ZeroMQ queue, pubsub deliveries pending). */
  readonly peerQueueBytes: number;
  /** Messages queued for one peer that does not read. */
  readonly peerQueueMessages: number;
  /** Bytes queued for all such peers together (also RabbitMQ deliveries awaiting the broker's confirm). */
  readonly routerQueueBytes: number;
  /** ZeroMQ ZMQ_SNDHWM; undefined: the transport's default (512). */
  readonly zmqSendHwm?: number;
}

export const MEMORY_LIMIT_USAGE = `  --max-message-bytes SIZE largest message the router takes, all frames together (default 4MiB): on ZeroMQ a
                           bigger frame is refused unread (libzmq closes the sender's connection), a bigger
                           message is dropped and counted; on RabbitMQ the largest body
  --peer-queue-bytes SIZE  bytes queued for one peer that does not read (default 16MiB); past it the sender
                           gets error 11 (EAGAIN)
  --peer-queue-messages N  messages queued for one such peer (default 6000)
  --router-queue-bytes SIZE  bytes queued for all such peers together (default 256MiB)
  --zmq-send-hwm N         messages libzmq holds per peer before the router's queue takes over
                           (default 512): libzmq holds at most this x max-message-bytes for a peer
  SIZE is a byte count, or a number with k, M or G (KiB, MiB, GiB): 4MiB, 512k, 1G.
`;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `4194304`, `4M`, `4MiB`, `512k`, `1G` -> bytes (binary multiples). */
export const ByteSizeSchema = z
  .string()
  .regex(/^\s*\d+\s*([kmg](i?b)?|b)?\s*$/i, { message: 'must be a byte count such as 4194304, 512k, 4MiB or 1G' })
  .transform((text) => {
    const m = /^\s*(\d+)\s*([kmg]?)/i.exec(text) as RegExpExecArray;
    return Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] as number);
  })
  .pipe(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER, { message: 'is too large' }));

const CountSchema = z
  .string()
  .regex(/^\s*\d+\s*$/, { message: 'must be a whole number' })
  .transform(Number);

/** The option schemas (strings on the command line and in `$VIP_HOME/config`). */
export const MemoryLimitOptionSchemas = {
  'max-message-bytes': ByteSizeSchema.pipe(
    z
      .number()
      .min(4096, { message: 'must be at least 4k (a hello must fit)' })
      .max(1024 ** 3, { message: 'must be at most 1G' }),
  ).optional(),
  'peer-queue-bytes': ByteSizeSchema.optional(),
  'peer-queue-messages': CountSchema.pipe(z.number().int().min(1, { message: 'must be at least 1' })).optional(),
  'router-queue-bytes': ByteSizeSchema.optional(),
  'zmq-send-hwm': CountSchema.pipe(
    z.number().int().min(1, { message: 'must be at least 1' }).max(1_000_000, { message: 'must be at most 1000000' }),
  ).optional(),
} as const;

export const MEMORY_LIMIT_KEYS = [
  'max-message-bytes',
  'peer-queue-bytes',
  'peer-queue-messages',
  'router-queue-bytes',
  'zmq-send-hwm',
] as const;

type LimitValues = Partial<Record<(typeof MEMORY_LIMIT_KEYS)[number], number>>;

/** The limits from validated option values, defaults filled in and checked against each other. */
export function memoryLimits(o: LimitValues): MemoryLimits {
  const limits: MemoryLimits = {
    maxMessageBytes: o['max-message-bytes'] ?? DEFAULT_MAX_MESSAGE_BYTES,
    peerQueueBytes: o['peer-queue-bytes'] ?? DEFAULT_PEER_QUEUE_BYTES,
    peerQueueMessages: o['peer-queue-messages'] ?? DEFAULT_PEER_QUEUE_MESSAGES,
    routerQueueBytes: o['router-queue-bytes'] ?? DEFAULT_ROUTER_QUEUE_BYTES,
    ...(o['zmq-send-hwm'] !== undefined ? { zmqSendHwm: o['zmq-send-hwm'] } : {}),
  };
  if (limits.peerQueueBytes < limits.maxMessageBytes) {
    throw new ConfigError(
      `invalid option: --peer-queue-bytes (${limits.peerQueueBytes}) must be at least --max-message-bytes (${limits.maxMessageBytes}): a largest message must fit a peer's queue`,
    );
  }
  if (limits.routerQueueBytes < limits.peerQueueBytes) {
    throw new ConfigError(
      `invalid option: --router-queue-bytes (${limits.routerQueueBytes}) must be at least --peer-queue-bytes (${limits.peerQueueBytes})`,
    );
  }
  return limits;
}
