import {
  EMPTY_FRAME,
  instanceNameProblem,
  isJsonValueFrame,
  InvalidPayloadError,
  ProtocolError,
  type Frame,
  type VipMessage,
} from '@vip/protocol';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import {
  assertedPolicy,
  judgeSender,
  type SenderJudgement,
  type SenderPolicy,
  type SenderTrust,
  type SpoofedSenderError,
} from './sender-trust.js';

/**
 * The VIP <-> AMQP mapping of docs/protocol.md 7.3, pure (no I/O).
 *
 * Byte fidelity: our frames are bytes, the AMQP body is a JSON array (UTF-8, `ensure_ascii=False`
 * like Python). A frame that is valid UTF-8 (all text, including every JSON payload) is written as
 * the JSON string of that text, so a Python peer reads the same text a TypeScript peer meant
 * (`"café"` stays `café` both ways). A frame that is not UTF-8 (binary) is written as
 * `{"__vip_bytes__": "<base64>"}`, which no Python peer sends. Receiving, a string becomes its UTF-8
 * bytes, that object its bytes, `null` the empty frame, and any other JSON value (a Python peer may
 * put numbers, lists or objects in args) its compact JSON text. Every frame thus round-trips
 * byte-exact between our peers. (Latin-1 strings would also round-trip, but would turn non-ASCII
 * text into mojibake for Python peers, which hold real Unicode strings on RMQ.)
 * Message ids travel in `message_id` as Latin-1 text: opaque, echoed back, byte-exact.
 * Identities, user and subsystem are text (UTF-8), as routing keys and headers are.
 */
export const VOLTTRON_EXCHANGE = 'volttron';
export const UNDELIVERABLE_EXCHANGE = 'undeliverable';
/** The router's identity on the bus; an empty VIP peer means this identity. */
export const ROUTER_IDENTITY = 'router';
const EXTERNAL_RPC_SUBSYSTEM = 'external_rpc';
export const VIP_PROTO = 'VIP';
export const JSON_CONTENT_TYPE = 'application/json';
const MAX_SHORTSTR = 255;

/** Publish parameters for one VIP message (what `channel.publish` takes). */
export interface AmqpPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly properties: {
    readonly appId: string;
    readonly messageId: string;
    readonly type: string;
    readonly contentType: string;
    readonly headers: { readonly recipient: string; readonly proto: string; readonly user: string };
    /** The publisher's broker user, checked by RabbitMQ (sender-identity.ts); absent when not known for sure. */
    readonly userId?: string;
  };
}

/** Who publishes: the sender's own instance and identity (app_id, default user). */
export interface MappingContext {
  readonly instance: string;
  readonly identity: string;
}

/** A received AMQP message read back as VIP. `peer` is the sender (empty = the router). */
export interface InboundVip {
  readonly message: VipMessage;
  /** The platform part of `app_id` (the sender's instance). */
  readonly platform: string;
  /** The sender identity as text (`router` for the router). */
  readonly senderIdentity: string;
  /** Header `recipient` (a full routing key) or the delivery routing key. */
  readonly recipient: string;
  /** The broker user RabbitMQ proved (user_id), when `trust` is `proven`. */
  readonly verifiedUser?: string;
  /** How far the sender is believed (sender-trust.ts); `message.user` follows it. */
  readonly trust: SenderTrust;
}

/** The queue name and binding key of an identity: `<instance>.<identity>` (7.2). */
export function routingKeyFor(instance: string, identity: string): string {
  return `${instance}.${identity === '' ? ROUTER_IDENTITY : identity}`;
}

/** An instance name usable in routing keys: non-empty, no `.` (the receiver splits app_id at the first dot). */
export function checkInstanceName(instance: string): string {
  const problem = instanceNameProblem(instance, 'rmq');
  if (problem !== undefined) throw new ProtocolError(`instance name ${JSON.stringify(instance)} ${problem}`);
  return instance;
}

/**
 * An identity frame as routing-key text. Throws ProtocolError for bytes that are not UTF-8, or an
 * identity holding `*` or `#` (a topic-exchange wildcard would bind other agents' messages).
 */
export function identityText(frame: Frame): string {
  const text = frame.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(frame)) throw new ProtocolError('identity is not valid UTF-8; RabbitMQ routing keys are text');
  if (/[*#]/.test(text)) throw new ProtocolError(`identity ${JSON.stringify(text)} contains '*' or '#', which are routing-key wildcards`);
  return text;
}

/** The JSON form of a binary (non-UTF-8) frame in an args body. */
export const BYTES_KEY = '__vip_bytes__';

/**
 * JSON array body of argument frames (UTF-8 text as strings, binary tagged, UTF-8 JSON); a frame
 * made by `jsonValueFrame` goes in as the JSON value it holds (a list as a list, null as null).
 */
export function encodeArgs(args: readonly Frame[]): Buffer {
  return Buffer.from(JSON.stringify(args.map(argValue)), 'utf8');
}

function argValue(a: Frame): unknown {
  if (isJsonValueFrame(a)) return JSON.parse(a.toString('utf8')) as unknown;
  return isUtf8(a) ? a.toString('utf8') : { [BYTES_KEY]: a.toString('base64') };
}

const ArgsBodySchema = z.array(z.unknown(), { error: 'AMQP body must be a JSON array of arguments' });

/** Argument frames from a JSON array body; an InvalidPayloadError for anything else. */
export function decodeArgs(body: Buffer): Frame[] | InvalidPayloadError {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return new InvalidPayloadError('AMQP VIP body', `not JSON (${(err as Error).message})`);
  }
  // Fast path for the common case (the schema accepts exactly arrays); the schema words the rejection.
  let items: unknown[];
  if (Array.isArray(raw)) {
    items = raw;
  } else {
    const parsed = ArgsBodySchema.safeParse(raw);
    if (!parsed.success) return new InvalidPayloadError('AMQP VIP body', parsed.error.issues.map((i) => i.message).join('; '));
    items = parsed.data;
  }
  try {
    return items.map(argFrame);
  } catch (err) {
    // JSON.parse takes nesting JSON.stringify cannot re-serialize (RangeError past ~10,000 levels);
    // thrown from a consumer callback, it would close the channel and lose the queue's backlog
    return new InvalidPayloadError('AMQP VIP body', `an argument cannot be re-serialized (${(err as Error).message})`);
  }
}

function argFrame(value: unknown): Frame {
  if (value === null) return EMPTY_FRAME;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const b64 = (value as Record<string, unknown>)[BYTES_KEY];
    if (keys.length === 1 && typeof b64 === 'string') return Buffer.from(b64, 'base64');
  }
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function shortstr(what: string, text: string): string {
  if (Buffer.byteLength(text, 'utf8') > MAX_SHORTSTR) throw new ProtocolError(`${what} is longer than an AMQP short string (255 bytes)`);
  return text;
}

/**
 * Publish parameters for `message` (peer = recipient) sent by `ctx`. `platform` addresses another
 * instance (`<platform>.<peer>`); an empty `user` becomes `<instance>.<identity>` when
 * `defaultUser` is set (agents do that, docs/protocol.md 7.3); `userId`, the publisher's broker user
 * (publisherUserId), goes in `user_id`. Throws ProtocolError when a field cannot
 * be carried (identity not UTF-8 or with wildcards, id longer than 255 bytes, empty subsystem).
 */
export function vipToAmqp(
  message: VipMessage,
  ctx: MappingContext,
  options: { readonly platform?: string; readonly defaultUser?: boolean; readonly userId?: string } = {},
): AmqpPublish {
  const routingKey = shortstr('routing key', routingKeyFor(options.platform ?? ctx.instance, identityText(message.peer)));
  const subsystem = message.subsystem.toString('utf8');
  if (subsystem.trim() === '') throw new ProtocolError('empty subsystem');
  const appId = routingKeyFor(ctx.instance, ctx.identity);
  const user = message.user.length === 0 && options.defaultUser === true ? appId : message.user.toString('utf8');
  return {
    exchange: VOLTTRON_EXCHANGE,
    routingKey,
    content: encodeArgs(message.args),
    properties: {
      appId: shortstr('app_id', appId),
      messageId: shortstr('message id', message.id.toString('latin1')),
      type: shortstr('subsystem', subsystem),
      contentType: JSON_CONTENT_TYPE,
      headers: { recipient: routingKey, proto: VIP_PROTO, user },
      ...(options.userId === undefined ? {} : { userId: options.userId }),
    },
  };
}

/** The fields of an amqplib message this mapping reads. */
export interface AmqpMessageLike {
  readonly content: Buffer;
  readonly fields: { readonly routingKey: string };
  readonly properties: {
    readonly appId?: unknown;
    readonly messageId?: unknown;
    readonly type?: unknown;
    readonly headers?: unknown;
    readonly userId?: unknown;
  };
}

const HeadersSchema = z
  .object({ recipient: z.string().optional(), user: z.string().optional(), proto: z.string().optional() })
  .loose()
  .optional();

type VipHeaders = z.infer<typeof HeadersSchema>;
const optionalText = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** The VIP headers (undefined when absent), or null when they are malformed. Checked by hand first (per message), HeadersSchema otherwise. */
function readHeaders(raw: unknown): VipHeaders | null {
  if (raw === undefined) return undefined;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const h = raw as Record<string, unknown>;
    if (optionalText(h.recipient) && optionalText(h.user) && optionalText(h.proto)) return h as VipHeaders;
  }
  const parsed = HeadersSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/**
 * What the receiver accepts: `maxBytes`, its maxMessageBytes (a larger body is refused unread);
 * `policy`, its rules for senders (judgeSender); `instance` alone means the policy that believes
 * unproven headers while still checking user_ids of that instance.
 */
/** The judgement without a policy: the header is believed. */
const ASSERTED: SenderJudgement = { trust: 'asserted' };

export interface InboundLimits {
  readonly maxBytes?: number;
  readonly instance?: string;
  readonly policy?: SenderPolicy;
}

/**
 * Read a delivered AMQP message as VIP; an InvalidPayloadError naming the bad field otherwise
 * (also for a body above `limits.maxBytes`). With a policy (or `limits.instance`), the sender is
 * judged (judgeSender): a contradicting user_id or an unproven platform identity is a
 * SpoofedSenderError (an InvalidPayloadError); the proven, legacy or anonymous user replaces the
 * `user` header. Never throws: it runs in consumer callbacks.
 */
export function amqpToVip(msg: AmqpMessageLike, limits: InboundLimits = {}): InboundVip | InvalidPayloadError | SpoofedSenderError {
  if (limits.maxBytes !== undefined && msg.content.length > limits.maxBytes) {
    return new InvalidPayloadError('AMQP VIP message', `body of ${msg.content.length} bytes exceeds maxMessageBytes (${limits.maxBytes})`);
  }
  const { appId, messageId, type } = msg.properties;
  if (typeof appId !== 'string' || !appId.includes('.')) {
    return new InvalidPayloadError('AMQP VIP message', 'app_id must be "<instance>.<identity>"');
  }
  if (typeof type !== 'string' || type.trim() === '') return new InvalidPayloadError('AMQP VIP message', 'type (the subsystem) is missing');
  const policy = limits.policy ?? (limits.instance === undefined ? undefined : assertedPolicy(limits.instance));
  const judged = policy === undefined ? ASSERTED : judgeSender(msg.properties.userId, appId, policy, 'AMQP VIP sender');
  if (judged instanceof InvalidPayloadError) return judged;
  const headers = readHeaders(msg.properties.headers);
  if (headers === null) return new InvalidPayloadError('AMQP VIP message', 'headers recipient/user/proto must be strings');
  if (headers?.proto !== undefined && headers.proto !== VIP_PROTO) {
    return new InvalidPayloadError('AMQP VIP message', `header proto is ${JSON.stringify(headers.proto)}, not "VIP"`);
  }
  const args = decodeArgs(msg.content);
  if (args instanceof InvalidPayloadError) return args;
  const dot = appId.indexOf('.');
  const platform = appId.slice(0, dot);
  const senderIdentity = appId.slice(dot + 1);
  return {
    message: {
      peer: senderIdentity === ROUTER_IDENTITY ? EMPTY_FRAME : Buffer.from(senderIdentity, 'utf8'),
      user: Buffer.from(userOfMessage(judged, senderIdentity, type, headers?.user), 'utf8'),
      id: typeof messageId === 'string' ? Buffer.from(messageId, 'latin1') : EMPTY_FRAME,
      subsystem: Buffer.from(type, 'utf8'),
      args,
    },
    platform,
    senderIdentity,
    recipient: headers?.recipient ?? msg.fields.routingKey,
    trust: judged.trust,
    ...(judged.trust === 'proven' ? { verifiedUser: msg.properties.userId as string } : {}),
  };
}

/**
 * The VIP user of a delivery: what the judgement hands on, else the header. The platform's router,
 * proven by its broker user, hands over external calls (`external_rpc`) for callers it names: a
 * non-empty `user` header on those (a remote platform's caller `<instance>.<platform>.<user>`, a
 * local caller's proven user) is believed; on everything else it is its own proven user.
 */
function userOfMessage(judged: SenderJudgement, senderIdentity: string, subsystem: string, header: string | undefined): string {
  if (judged.trust === 'proven' && senderIdentity === ROUTER_IDENTITY && subsystem === EXTERNAL_RPC_SUBSYSTEM && header) return header;
  return judged.user ?? header ?? '';
}

/** Split a routing key `<instance>.<identity>` (identity may contain dots); undefined if it has no dot. */
export function splitRoutingKey(key: string): { readonly instance: string; readonly identity: string } | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0) return undefined;
  return { instance: key.slice(0, dot), identity: key.slice(dot + 1) };
}
