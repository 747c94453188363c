import { z } from 'zod';
import { CapabilitiesInputSchema } from './capabilities.js';
import { InvalidPayloadError } from './errors.js';

/**
 * Structured payloads of the router-handled subsystems (docs/protocol.md 2 and 3), as zod schemas with
 * VOLTTRON's defaults, and parse functions that return the value or an InvalidPayloadError (never
 * throw). Each parse function takes the JSON frame (bytes or text) or an already decoded value.
 */

// ---------------------------------------------------------------- helpers

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** JSON frame (bytes or text) or decoded value -> decoded value, or an error naming `what`. */
export function decodeJsonPayload(raw: unknown, what: string): unknown {
  if (!(raw instanceof Uint8Array) && typeof raw !== 'string') return raw;
  // A Buffer (every received frame) is decoded as it is; another Uint8Array through a Buffer view.
  const text =
    typeof raw === 'string'
      ? raw
      : Buffer.isBuffer(raw)
        ? raw.toString('utf8')
        : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return new InvalidPayloadError(what, `not JSON (${text.length} chars starting ${JSON.stringify(text.slice(0, 20))})`, { cause: err });
  }
}

/** Validates `raw` (frame, text or value) against `schema`; the error names `what` and each failing path. */
export function parsePayload<S extends z.ZodType>(schema: S, what: string, raw: unknown): z.output<S> | InvalidPayloadError {
  const value = decodeJsonPayload(raw, what);
  if (value instanceof InvalidPayloadError) return value;
  const r = schema.safeParse(value);
  return r.success ? r.data : new InvalidPayloadError(what, formatIssues(r.error));
}

// ---------------------------------------------------------------- pubsub (docs/protocol.md 3.2)

/** Ops a peer sends to the router's pubsub subsystem (first arg), and the two reply ops. */
export const PUBSUB_OPS = [
  'subscribe',
  'unsubscribe',
  'publish',
  'list',
  'synchronize',
  'auth_update',
  'protected_update',
  'external_list',
  'external_publish',
  'error',
  'request_response',
] as const;
export type PubsubOp = (typeof PUBSUB_OPS)[number];
export const PUBSUB_REPLY_OPS = ['request_response', 'list_response'] as const;

const PrefixSchema = z.union([z.string(), z.array(z.string())]);
const HeadersSchema = z.record(z.string(), z.unknown());

export const SubscribeRequestSchema = z.object({
  prefix: PrefixSchema,
  bus: z.string().default(''),
  all_platforms: z.boolean().default(false),
});
export type SubscribeRequest = z.output<typeof SubscribeRequestSchema>;
export const parseSubscribeRequest = (raw: unknown) => parsePayload(SubscribeRequestSchema, 'pubsub.subscribe', raw);

/** One side (`internal` or `all`) of an unsubscribe; `prefix: null` removes the sender from every prefix of the bus. */
export const UnsubscribeScopeSchema = z.object({
  prefix: z.union([PrefixSchema, z.null()]),
  bus: z.string().default(''),
});
export type UnsubscribeScope = z.output<typeof UnsubscribeScopeSchema>;

export const UnsubscribeRequestSchema = z
  .object({ internal: UnsubscribeScopeSchema.optional(), all: UnsubscribeScopeSchema.optional() })
  .refine((v) => v.internal !== undefined || v.all !== undefined, { message: 'needs "internal" or "all"' });
/** Legacy form `{prefix, bus}`: the same as `{internal: {prefix, bus}}`. */
export const LegacyUnsubscribeRequestSchema = UnsubscribeScopeSchema;

/** An unsubscribe, normalised: prefixes as a list (or null = all), legacy form moved under `internal`. */
export interface UnsubscribeRequest {
  readonly internal?: { readonly prefix: string[] | null; readonly bus: string } | undefined;
  readonly all?: { readonly prefix: string[] | null; readonly bus: string } | undefined;
}

export function parseUnsubscribeRequest(raw: unknown): UnsubscribeRequest | InvalidPayloadError {
  const what = 'pubsub.unsubscribe';
  const value = decodeJsonPayload(raw, what);
  if (value instanceof InvalidPayloadError) return value;
  const modern = typeof value === 'object' && value !== null && ('internal' in value || 'all' in value);
  const parsed = modern ? parsePayload(UnsubscribeRequestSchema, what, value) : parsePayload(LegacyUnsubscribeRequestSchema, what, value);
  if (parsed instanceof InvalidPayloadError) return parsed;
  const norm = (s: UnsubscribeScope | undefined) =>
    s && { prefix: s.prefix === null ? null : typeof s.prefix === 'string' ? [s.prefix] : s.prefix, bus: s.bus };
  if ('prefix' in parsed) return { internal: norm(parsed) };
  return { internal: norm(parsed.internal), all: norm(parsed.all) };
}

/** The body of a `publish` request (`['publish', topic, body]`). */
export const PublishRequestSchema = z.object({
  bus: z.string().default(''),
  headers: HeadersSchema.default({}),
  message: z.unknown().default(null),
});
export type PublishRequest = z.output<typeof PublishRequestSchema>;

/** The body the router delivers to subscribers, and the body of `external_publish`. */
export const DeliveredPublishSchema = PublishRequestSchema.extend({ sender: z.string() });
export type DeliveredPublish = z.output<typeof DeliveredPublishSchema>;

/** A decoded publish body before defaults (what `wellFormedPublish` lets through). */
interface PublishFields {
  readonly bus?: string;
  readonly headers?: Record<string, unknown>;
  readonly message?: unknown;
  readonly sender?: unknown;
}

/**
 * Fast path of the publish parsers, run once per publish and once per delivery: a body with a
 * string `bus` (or none), a plain-object `headers` (or none) and any `message` (what every agent
 * and router sends) needs no schema. The parsers then build what the schema would (defaults, no
 * unknown members); anything else goes through the schema, which judges it and explains a failure.
 */
function wellFormedPublish(value: unknown): value is PublishFields {
  if (!isPlainRecord(value)) return false;
  const { bus, headers } = value;
  return (bus === undefined || typeof bus === 'string') && (headers === undefined || isPlainRecord(headers));
}

/** An object as JSON.parse makes it (the schema copies anything else, e.g. a null-prototype object). */
function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** Validates the frame (or value) of a `publish` body. */
export function parsePublishRequest(raw: unknown): PublishRequest | InvalidPayloadError {
  const value = decodeJsonPayload(raw, 'pubsub.publish');
  if (value instanceof InvalidPayloadError) return value;
  if (wellFormedPublish(value)) return { bus: value.bus ?? '', headers: value.headers ?? {}, message: value.message ?? null };
  return parsePayload(PublishRequestSchema, 'pubsub.publish', value);
}

/** Validates the body of a publish delivery (router to subscriber). */
export function parseDeliveredPublish(raw: unknown): DeliveredPublish | InvalidPayloadError {
  const value = decodeJsonPayload(raw, 'pubsub publish delivery');
  if (value instanceof InvalidPayloadError) return value;
  if (wellFormedPublish(value) && typeof value.sender === 'string') {
    return { bus: value.bus ?? '', headers: value.headers ?? {}, message: value.message ?? null, sender: value.sender };
  }
  return parsePayload(DeliveredPublishSchema, 'pubsub publish delivery', value);
}
export const ExternalPublishSchema = DeliveredPublishSchema;
export const parseExternalPublish = (raw: unknown) => parsePayload(ExternalPublishSchema, 'pubsub.external_publish', raw);

/** Publish headers a Python agent always adds. */
export const PUBLISH_COMPAT_HEADERS = { min_compatible_version: '3.0', max_compatible_version: '' } as const;

export const ListRequestSchema = z.object({
  prefix: z.string().default(''),
  bus: z.union([z.string(), z.null()]).default(''),
  subscribed: z.boolean().default(true),
  reverse: z.boolean().default(false),
  all_platforms: z.boolean().default(false),
});
export type ListRequest = z.output<typeof ListRequestSchema>;
export const parseListRequest = (raw: unknown) => parsePayload(ListRequestSchema, 'pubsub.list', raw);

/** `list_response` payload: `[[bus, topic, is_member], ...]`. */
export const ListResponseSchema = z.array(z.tuple([z.string(), z.string(), z.boolean()]));
export type ListResponse = z.output<typeof ListResponseSchema>;
export const parseListResponse = (raw: unknown) => parsePayload(ListResponseSchema, 'pubsub list_response', raw);

/** `['synchronize', 'connected', body]`: the sender's whole subscription set, `{platform: {bus: [prefixes]}}`. */
export const SynchronizeRequestSchema = z.object({
  subscriptions: z.record(z.string(), z.record(z.string(), z.array(z.string()))).default({}),
});
export type SynchronizeRequest = z.output<typeof SynchronizeRequestSchema>;
export const parseSynchronizeRequest = (raw: unknown) => parsePayload(SynchronizeRequestSchema, 'pubsub.synchronize', raw);

/**
 * `{capabilities: {user_id: capabilities}}`, each user's in any of VOLTTRON's forms, kept as sent
 * (pubsub prints them as VOLTTRON does).
 */
export const AuthUpdateSchema = z.object({ capabilities: z.record(z.string(), CapabilitiesInputSchema).default({}) });
export type AuthUpdate = z.output<typeof AuthUpdateSchema>;
export const parseAuthUpdate = (raw: unknown) => parsePayload(AuthUpdateSchema, 'pubsub.auth_update', raw);

export const ProtectedTopicSchema = z.object({ topic: z.string(), capabilities: z.union([z.array(z.string()), z.string()]) });
export const ProtectedUpdateSchema = z.object({ 'write-protect': z.array(ProtectedTopicSchema).default([]) });
export type ProtectedUpdate = z.output<typeof ProtectedUpdateSchema>;
export const parseProtectedUpdate = (raw: unknown) => parsePayload(ProtectedUpdateSchema, 'pubsub.protected_update', raw);

/** `external_list`: `{instance_name: [prefixes]}` (docs/protocol.md 6.4). */
export const ExternalListSchema = z.record(z.string(), z.array(z.string()));
export type ExternalList = z.output<typeof ExternalListSchema>;
export const parseExternalList = (raw: unknown) => parsePayload(ExternalListSchema, 'pubsub.external_list', raw);

// ---------------------------------------------------------------- peerlist (docs/protocol.md 2.3)

/** Requests a peer may send (the ZMQ router serves `list` only; the rest are RMQ router features). */
export const PEERLIST_REQUEST_OPS = ['list', 'add', 'drop', 'list_with_messagebus'] as const;
export type PeerlistRequestOp = (typeof PEERLIST_REQUEST_OPS)[number];
/** What the router sends: `listing` (reply), `add`/`drop` (events), `error` (reply). */
export const PEERLIST_REPLY_OPS = ['listing', 'add', 'drop', 'error'] as const;
export type PeerlistReplyOp = (typeof PEERLIST_REPLY_OPS)[number];
export const PEERLIST_ERRORS = { MISSING: 'missing operation', UNKNOWN: 'unknown operation' } as const;

/** A peerlist request's op, or the error text the router answers with (`['error', text]`). */
export function parsePeerlistOp(args: readonly Uint8Array[]): PeerlistRequestOp | InvalidPayloadError {
  const first = args[0];
  if (first === undefined) return new InvalidPayloadError('peerlist request', PEERLIST_ERRORS.MISSING);
  const op = Buffer.from(first).toString('latin1');
  return (PEERLIST_REQUEST_OPS as readonly string[]).includes(op)
    ? (op as PeerlistRequestOp)
    : new InvalidPayloadError('peerlist request', PEERLIST_ERRORS.UNKNOWN);
}

// ---------------------------------------------------------------- query (docs/protocol.md 2.4)

export const QUERY_PROPERTIES = [
  'addresses',
  'local_address',
  'serverkey',
  'volttron-central-address',
  'volttron-central-serverkey',
  'instance-name',
  'bind-web-address',
  'platform-version',
  'message-bus',
  'agent-monitor-frequency',
] as const;
export type QueryProperty = (typeof QUERY_PROPERTIES)[number];

/**
 * What a vip platform answers to `query platform-version`: the VOLTTRON release whose wire it
 * speaks, since VOLTTRON agents and tools read that property as VOLTTRON's version (and may compare
 * it). vip's own version is the property `vip-version`.
 */
export const VOLTTRON_COMPATIBLE_VERSION = '9.0.4';
/** The query property carrying vip's own version (not a VOLTTRON property). */
export const VIP_VERSION_PROPERTY = 'vip-version';
export const isQueryProperty = (name: string): name is QueryProperty => (QUERY_PROPERTIES as readonly string[]).includes(name);

// ---------------------------------------------------------------- hello (docs/protocol.md 2.1)

export const HELLO_OP = 'hello';
export const WELCOME_OP = 'welcome';
export const VIP_VERSION = '1.0';

/** The welcome args: `['welcome', version, routerIdentity, peerIdentity]`. */
export interface Welcome {
  readonly version: string;
  readonly routerIdentity: Buffer;
  readonly peerIdentity: Buffer;
}

/** Args of a `hello` reply as the router writes them. */
export function welcomeArgs(routerIdentity: Uint8Array, peerIdentity: Uint8Array): Buffer[] {
  return [Buffer.from(WELCOME_OP), Buffer.from(VIP_VERSION), Buffer.from(routerIdentity), Buffer.from(peerIdentity)];
}

/** Reads a `hello` reply; like a Python agent, it needs more than 3 args, the first being `welcome`. */
export function parseWelcome(args: readonly Uint8Array[]): Welcome | InvalidPayloadError {
  const [op, version, router, peer] = args;
  if (args.length < 4 || op === undefined || version === undefined || router === undefined || peer === undefined) {
    return new InvalidPayloadError('hello reply', `expected 4 args (welcome, version, router identity, peer identity), got ${args.length}`);
  }
  const opText = Buffer.from(op).toString('latin1');
  if (opText !== WELCOME_OP) return new InvalidPayloadError('hello reply', `first arg is ${JSON.stringify(opText)}, not "welcome"`);
  return { version: Buffer.from(version).toString('latin1'), routerIdentity: Buffer.from(router), peerIdentity: Buffer.from(peer) };
}
