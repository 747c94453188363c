import type { Frame, Logger, VipMessage, WireError } from '@vip/protocol';
import type { OperationName } from './pending-requests.js';

/** A message to send; strings become UTF-8 frames. `peer` empty = the router. */
export interface OutgoingMessage {
  readonly peer: string | Frame;
  readonly subsystem: string;
  readonly args: readonly (string | Frame)[];
  /** Defaults to the empty frame (notifications, events). */
  readonly id?: string | Frame;
  readonly user?: string | Frame;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Used in timeout messages; defaults to `<subsystem> request to <peer>`. A function is only
   * called when the request times out or is aborted (no name is built for a request that succeeds).
   */
  readonly operation?: OperationName;
  /** Use this message id instead of a fresh one (it must never parse as JSON). */
  readonly id?: string;
}

/** What `expect` needs: the request's name, and the peer its reply comes from, if any. */
export interface ExpectOptions extends RequestOptions {
  readonly operation: OperationName;
  /**
   * The peer the reply is to come from ('' = the router): only its reply settles the wait, and the
   * wait fails with PeerUnreachableError when the router drops that peer.
   */
  readonly from: string | Frame;
  /** The subsystem of the request, for that error. */
  readonly subsystem?: string;
}

/** Publishes on the bus; provided by the pubsub subsystem, used by health and heartbeat. */
export interface AgentPublisher {
  publish(topic: string, headers: Readonly<Record<string, unknown>>, message: unknown): Promise<unknown>;
}

/**
 * What a subsystem sees of its agent: the stable API for pubsub, health, heartbeat and any
 * subsystem written outside this package. Transport-neutral: only VIP messages.
 */
export interface AgentCore {
  readonly identity: string;
  readonly logger: Logger;
  /** True between a welcome and the next disconnect. */
  readonly connected: boolean;
  /** A fresh message id that never parses as JSON. */
  nextId(): string;
  /** Send one message; rejects with ClosedError when the agent is stopped. */
  send(message: OutgoingMessage): Promise<void>;
  /**
   * Send with a fresh, unguessable id and wait for the reply your `handle` passes to
   * `settle(id, value, message.peer)`; only `message.peer` answers it. A VIP `error` for that id
   * from the router or that peer rejects with the typed error (PeerUnreachableError...), and so
   * does the router's `peerlist drop` of that peer (its reply cannot come any more).
   */
  request<T>(message: Omit<OutgoingMessage, 'id'>, options?: RequestOptions): Promise<T>;
  /**
   * Wait for a reply under `id` from `from` (the peer the request goes to, '' = the router)
   * without sending (batches, custom flows); same rules as `request`.
   */
  expect<T>(id: string, options: ExpectOptions): Promise<T>;
  /**
   * Resolve the pending request with message id `id`, if `from` (the reply's peer frame, '' = the
   * router) is the peer it was sent to. False when none waits (counted `replies.unmatched`) or the
   * reply came from another peer (counted `replies.wrong_peer`: it may have guessed or seen the id).
   */
  settle(id: Frame | string, value: unknown, from: Frame | string): boolean;
  /**
   * Fail the pending request with message id `id`: `from` as in `settle`, except that the router
   * ('') may fail any request; omitted for a failure found locally (a send that failed).
   */
  fail(id: Frame | string, error: Error, from?: Frame | string): boolean;
  /** Another subsystem by name (e.g. 'pubsub'), once registered. */
  subsystem<T extends Subsystem = Subsystem>(name: string): T | undefined;
  /** The publisher registered by the pubsub subsystem, if any. */
  readonly publisher: AgentPublisher | undefined;
  /** Register the publisher (pubsub does this). */
  providePublisher(publisher: AgentPublisher): void;
}

/**
 * One agent subsystem. `name` is the subsystem frame it serves (`pubsub`, `RPC`...) or a
 * purely local name for subsystems that only talk through others (health, heartbeat).
 */
export interface Subsystem {
  readonly name: string;
  /**
   * Inbound messages whose subsystem frame equals `name`. Returning false says the message was
   * not for this side (an unknown operation, a stray reply): the agent counts it as ignored.
   */
  handle?(message: VipMessage): boolean | void;
  /** A VIP error for a message of this subsystem (after the matching pending request failed). */
  handleError?(error: WireError, message: VipMessage): void;
  /** After every welcome (start and each reconnect): re-subscribe, re-announce. */
  onConnected?(): void | Promise<void>;
  onDisconnected?(): void;
  /** Before `agentstop` is sent on a clean stop. */
  onStop?(): void | Promise<void>;
  /** Release timers and other resources; called once when the agent stops. */
  close?(): void | Promise<void>;
}

/** Builds a subsystem for an agent: `agent.use((core) => new MySubsystem(core))`. */
export type SubsystemFactory<S extends Subsystem = Subsystem> = (core: AgentCore) => S;
