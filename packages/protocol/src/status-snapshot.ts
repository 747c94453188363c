import { z } from 'zod';

/**
 * What the platform's status board shows at one moment: the status page's live feed (SSE), the
 * `status.snapshot` RPC of `control` (vipctl top) and the base of `/metrics`. One schema for the
 * platform that writes it and vipctl that reads it. No key or secret is ever part of it.
 */

const count = z.number().int().nonnegative();

export const StatusPeerSchema = z.object({
  identity: z.string(),
  /** The user the bus proved for the peer (its ZAP admission, its broker user); its identity where the bus proves nothing. */
  user: z.string(),
  bus: z.enum(['zmq', 'rmq']),
  /** Epoch ms of its first message seen by the router (while the board ran). */
  connectedSince: z.number(),
  /** Pubsub deliveries to it the transport has not taken yet, and their bytes. */
  queued: count,
  queuedBytes: count,
  /** Pubsub deliveries to it dropped (back-pressure, unreachable), since the platform started. */
  dropped: count,
});
export type StatusPeer = z.infer<typeof StatusPeerSchema>;

export const StatusTopicSchema = z.object({
  bus: z.string(),
  /** The subscribed prefix. */
  prefix: z.string(),
  subscribers: count,
});
export type StatusTopic = z.infer<typeof StatusTopicSchema>;

/** One sample of the rate history: per-second rates over the interval that ended at `t`. */
export const RateSampleSchema = z.object({
  /** Epoch ms. */
  t: z.number(),
  /** Messages the router received per second. */
  messages: z.number().nonnegative(),
  /** Messages handed to a peer per second (forwards and pubsub deliveries). */
  deliveries: z.number().nonnegative(),
  /** Messages dropped per second (router drops of any reason, pubsub drops). */
  drops: z.number().nonnegative(),
});
export type RateSample = z.infer<typeof RateSampleSchema>;

/** A link to another platform and its state (filled by the multi-platform routing service). */
export const LinkedPlatformSchema = z.object({
  instance: z.string(),
  address: z.string(),
  state: z.enum(['connected', 'connecting', 'down']),
  /** Epoch ms of the last state change, when known. */
  since: z.number().optional(),
});
export type LinkedPlatform = z.infer<typeof LinkedPlatformSchema>;

const countMap = z.record(z.string(), z.number());

export const StatusSnapshotSchema = z.object({
  instance: z.string(),
  bus: z.enum(['zmq', 'rmq']),
  version: z.string(),
  /** Epoch ms: when the platform started, and of this snapshot. */
  startedAt: z.number(),
  now: z.number(),
  totals: z.object({
    received: count,
    forwarded: count,
    published: count,
    delivered: count,
    dropped: count,
  }),
  peers: z.array(StatusPeerSchema),
  /** Peers left out of `peers` (the list is bounded). */
  peersOmitted: count,
  topics: z.array(StatusTopicSchema),
  topicsOmitted: count,
  /** Rate samples, oldest first (all the history the board keeps, or the last few). */
  rates: z.array(RateSampleSchema),
  /** Seconds between samples. */
  sampleSeconds: z.number().positive(),
  tracker: z.object({
    enabled: z.boolean(),
    start: z.number().optional(),
    incoming: countMap,
    outgoing: countMap,
    errors: count,
    unroutable: count,
  }),
  linkedPlatforms: z.array(LinkedPlatformSchema),
});
export type StatusSnapshot = z.infer<typeof StatusSnapshotSchema>;
