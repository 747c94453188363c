import {
  EMPTY_FRAME,
  EXTERNAL_RPC_ERROR_CODES,
  PeerUnreachableError,
  PlatformUnreachableError,
  textFrame,
  buildRequest,
  errorResponseFor,
  frameText,
  InvalidRpcError,
  parseRpcFrame,
  pythonJson,
  readErrorData,
  RPC_ERROR_CODES,
  UNAUTHORIZED_ERRNUM,
  UNAUTHORIZED_EXC_TYPE,
  UnauthorizedError,
  unhandledException,
  type Frame,
  type RpcErrorObject,
  type RpcMessage,
  type RpcResponse,
  type VipMessage,
  type WireError,
} from '@vip/protocol';
import { CapabilityMapSchema, ExternalRpcErrorDataSchema } from '@vip/protocol/internal';
import { MethodNotFoundError, RemoteError, RpcError, RpcException } from '../errors.js';
import type { AgentCore, Subsystem } from '../subsystem.js';
import type { CapabilityMap, UserCapabilities } from './capabilities.js';
import { RpcDispatcher, type DispatchContext } from './dispatcher.js';
import { makeExported, markedMethods, type ExportedMethod, type ExportOptions, type RpcCallContext, type RpcHandler } from './exports.js';
import { splitCallArgs } from './params.js';
import type { ExternalRpcServer, ExternalRpcSubsystem } from './external-rpc.js';
import { exportSite } from './inspect.js';

export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

export interface RpcOptions {
  /** Default timeout of `call` (30 s, as vctl). */
  readonly timeoutMs?: number;
  /**
   * Capabilities for `allow` checks: a fixed map, or a function asked on every check (an
   * in-process source, e.g. the platform's own services reading the AuthService). Default: ask
   * `platform.auth` (`get_user_to_capabilities`) once, refreshed by `auth.update` pushes from
   * `platform.auth` only.
   */
  readonly capabilities?: CapabilityMap | (() => Promise<CapabilityMap> | CapabilityMap);
  /**
   * The user id to check capabilities for, from the VIP user frame. Default: the frame as is
   * (ZeroMQ). RabbitMQ users are `<instance>.<user>`: `@vip/agent/rmq` strips the instance.
   */
  readonly userOf?: (vipUser: string) => string;
}

export interface CallOptions {
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * The platform `peer` is on, for a call to another platform (docs/protocol.md 6.3): sent through
   * this platform's router, which answers at once with PlatformUnreachableError when it does not
   * know that platform or its link is down.
   */
  readonly externalPlatform?: string;
}

export interface BatchItem {
  readonly method: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** A notification: no id, no result. */
  readonly notify?: boolean;
}

/**
 * The `RPC` subsystem (JSON-RPC 2.0, docs/protocol.md 4). The VIP message id of a call equals its
 * JSON-RPC id and never parses as JSON, so a router's `error 113` fails the call at once.
 */
export class RpcSubsystem implements Subsystem, ExternalRpcServer {
  readonly name = 'RPC';
  readonly #core: AgentCore;
  readonly #options: RpcOptions;
  readonly #methods = new Map<string, ExportedMethod>();
  readonly #dispatcher = new RpcDispatcher(this.#methods);
  readonly #batches = new Map<string, string[]>();
  /** External calls waiting: JSON-RPC id -> the platform and peer whose answer settles it. */
  readonly #external = new Map<string, { readonly platform: string; readonly peer: string }>();
  #capabilities: CapabilityMap | undefined;
  #fetching: Promise<CapabilityMap | undefined> | undefined;
  #rejected = 0;

  constructor(core: AgentCore, options: RpcOptions = {}) {
    this.#core = core;
    this.#options = options;
    const rpc = this;
    this.export(
      'auth.update',
      function (this: RpcCallContext, map: unknown) {
        return rpc.#authUpdate(this.caller, map);
      },
      {
        params: ['user_to_capabilities'],
      },
    );
  }

  /** Export `handler` as RPC method `name`. */
  export(name: string, handler: RpcHandler, options: ExportOptions = {}): void {
    this.#methods.set(name, makeExported(name, handler, options, exportSite(this.export)));
  }

  unexport(name: string): boolean {
    return this.#methods.delete(name);
  }

  /** Export every `@exported` method of `instance`; returns their RPC names. */
  exportObject(instance: object): string[] {
    const site = exportSite(this.exportObject);
    return markedMethods(instance).map((m) => {
      this.#methods.set(m.name, makeExported(m.name, m.handler, m.options, site));
      return m.name;
    });
  }

  /** The capabilities required to call `name` (its `allow`), or undefined when it is not exported. */
  allowOf(name: string): readonly string[] | undefined {
    return this.#methods.get(name)?.allow;
  }

  /**
   * Replaces the capabilities required to call `name` (VOLTTRON's `rpc.allow(method, caps)`, used by
   * the `auth` subsystem); `['']` or `[]` admits every caller. False when `name` is not exported.
   */
  setAllow(name: string, capabilities: readonly string[]): boolean {
    const method = this.#methods.get(name);
    if (!method) return false;
    this.#methods.set(name, { ...method, allow: [...capabilities] });
    return true;
  }

  /** Exported method names (what `inspect` answers). */
  exportedNames(): string[] {
    return [...this.#methods.keys()];
  }

  /** Responses and requests refused as malformed. */
  get rejected(): number {
    return this.#rejected;
  }

  /** `call(peer, method, 1, 2)`, `call(peer, method, kwargs({x: 1}))`, `call(peer, method, 1, kwargs({x: 2}))`. */
  call<T = unknown>(peer: string, method: string, ...args: unknown[]): Promise<T> {
    const split = splitCallArgs(args);
    return this.request<T>(peer, method, {
      args: split.args,
      kwargs: split.kwargs,
      ...(split.platform !== undefined ? { externalPlatform: split.platform } : {}),
    });
  }

  /** A call with explicit positional/keyword arguments and a per-call timeout or signal. */
  request<T = unknown>(peer: string, method: string, options: CallOptions = {}): Promise<T> {
    const id = this.#core.nextId();
    const body = pythonJson(buildRequest(method, { args: options.args, kwargs: options.kwargs, id }));
    if (options.externalPlatform !== undefined) return this.#requestExternal<T>(options.externalPlatform, peer, method, id, body, options);
    return this.#core.request<T>(
      { peer, subsystem: 'RPC', args: [body] },
      {
        id,
        timeoutMs: options.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
        signal: options.signal,
        operation: () => `RPC call ${JSON.stringify(peer)}.${method}`,
      },
    );
  }

  /** A notification: no id, no reply; resolves once sent (to another platform: a trailing `onPlatform(name)`). */
  notify(peer: string, method: string, ...args: unknown[]): Promise<void> {
    const split = splitCallArgs(args);
    const text = pythonJson(buildRequest(method, { args: split.args, kwargs: split.kwargs }));
    if (split.platform !== undefined) return this.#externalSide().send(split.platform, peer, [text]);
    return this.#core.send({ peer, subsystem: 'RPC', args: [text] });
  }

  #requestExternal<T>(platform: string, peer: string, method: string, id: string, body: string, options: CallOptions): Promise<T> {
    const external = this.#externalSide();
    this.#external.set(id, { platform, peer });
    const wait = this.#core
      .expect<T>(id, {
        from: '',
        subsystem: 'external_rpc',
        timeoutMs: options.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
        signal: options.signal,
        operation: () => `RPC call ${JSON.stringify(peer)}.${method} on platform ${JSON.stringify(platform)}`,
      })
      .finally(() => this.#external.delete(id));
    external
      .send(platform, peer, [body], id)
      .catch((err: unknown) => this.#core.fail(id, err instanceof Error ? err : new Error(String(err))));
    return wait;
  }

  #externalSide(): ExternalRpcSubsystem {
    const side = this.#core.subsystem<ExternalRpcSubsystem>('external_rpc');
    if (side === undefined) throw new Error('this agent has no external_rpc subsystem');
    return side;
  }

  /**
   * ExternalRpcServer: one JSON-RPC text from `peer` on `platform` (parsed once): answers to our
   * external calls settle them (only from the platform and peer each went to); requests are
   * served as from `<platform>.<peer>` with `user`, their answer text returned.
   */
  serveExternal(text: string, platform: string, peer: string, user: Frame): string | undefined | Promise<string | undefined> {
    const parsed = parseRpcFrame(text);
    if (parsed instanceof InvalidRpcError) return this.#invalid(parsed);
    const items = parsed.batch ? parsed.items : [parsed.message];
    if (items.length > 0 && items.every((i) => !(i instanceof InvalidRpcError) && i.kind !== 'request')) {
      this.#answered(items as RpcMessage[], platform, peer);
      return undefined;
    }
    // the caller qualified by its platform (`<platform>.<peer>`): a remote `platform.auth` is not this
    // platform's, and may not push `auth.update` (nor pass any other check made on the caller's name)
    const message: VipMessage = { peer: textFrame(`${platform}.${peer}`), user, id: EMPTY_FRAME, subsystem: RPC_FRAME, args: [] };
    const context = new MessageContext(message, this.#options.userOf ?? identityUser, this.#capabilitiesFn);
    if (parsed.batch) return this.#serveBatch(parsed.items, context);
    const r = this.#one(parsed.message, context);
    return r instanceof Promise ? r.then(serializeOptional) : serializeOptional(r);
  }

  #answered(items: readonly RpcMessage[], platform: string, peer: string): void {
    for (const item of items) {
      if (item.kind === 'request') continue;
      const id = item.response.id;
      const call = typeof id === 'string' ? this.#external.get(id) : undefined;
      if (call === undefined || call.platform !== platform || call.peer !== peer) {
        this.#rejected += 1;
        continue;
      }
      if (item.kind === 'error') this.#core.fail(id as string, errorFromRpc(item.response.error), '');
      else this.#core.settle(id as string, item.response.result, '');
    }
  }

  /** One VIP message holding a JSON array; settles per item (undefined for notifications). */
  batch(peer: string, items: readonly BatchItem[], options: { timeoutMs?: number } = {}): Promise<PromiseSettledResult<unknown>[]> {
    const vipId = this.#core.nextId();
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    const ids: string[] = [];
    const waits: Promise<unknown>[] = [];
    const requests = items.map((item) => {
      const id = item.notify ? undefined : this.#core.nextId();
      if (id !== undefined) ids.push(id);
      waits.push(
        id === undefined
          ? Promise.resolve(undefined)
          : this.#core.expect(id, {
              from: peer,
              timeoutMs,
              operation: `RPC batch call ${JSON.stringify(peer)}.${item.method}`,
              subsystem: 'RPC',
            }),
      );
      return buildRequest(item.method, { args: item.args, kwargs: item.kwargs, id });
    });
    if (ids.length > 0) this.#batches.set(vipId, ids);
    const all = Promise.allSettled(waits).finally(() => this.#batches.delete(vipId));
    this.#core.send({ peer, id: ids.length > 0 ? vipId : '', subsystem: 'RPC', args: [pythonJson(requests)] }).catch((err: unknown) => {
      for (const id of ids) this.#core.fail(id, err instanceof Error ? err : new Error(String(err)));
    });
    return all;
  }

  /** `inspect` of a peer (exported names) or `<method>.inspect` (its signature). */
  inspect(peer: string, method?: string): Promise<unknown> {
    return this.call(peer, method ? `${method}.inspect` : 'inspect');
  }

  handle(message: VipMessage): void {
    // Caller and user are decoded on first read: most methods never look at them.
    const context = new MessageContext(message, this.#options.userOf ?? identityUser, this.#capabilitiesFn);
    const args = message.args;
    if (args.length === 1) {
      // The usual message: one call or one response; a synchronous answer leaves at once.
      let reply: string | undefined | Promise<string | undefined>;
      try {
        reply = this.#serve(args[0] as Frame, context);
      } catch (err) {
        this.#serveFailed(err);
        return;
      }
      if (reply instanceof Promise) reply.then((r) => this.#replyOne(message, r)).catch(this.#serveFailed);
      else this.#replyOne(message, reply)?.catch(this.#serveFailed);
      return;
    }
    let replies: (string | undefined | Promise<string | undefined>)[];
    try {
      replies = args.map((frame) => this.#serve(frame, context));
    } catch (err) {
      this.#serveFailed(err);
      return;
    }
    // Plain values when every frame was answered synchronously: the reply leaves now, without a Promise.all round.
    if (replies.some((r) => r instanceof Promise)) {
      Promise.all(replies)
        .then((frames) => this.#reply(message, frames))
        .catch(this.#serveFailed);
    } else {
      this.#reply(message, replies as (string | undefined)[])?.catch(this.#serveFailed);
    }
  }

  readonly #capabilitiesFn = (user: string): Promise<UserCapabilities | undefined> => this.#capabilitiesOf(user);

  readonly #serveFailed = (err: unknown): void => this.#core.logger.warn('rpc.serve.failed', {}, err);

  /** One RPC frame: the reply text (undefined for responses and notifications), a promise when a method is async. */
  #serve(frame: Frame, context: MessageContext): string | undefined | Promise<string | undefined> {
    const payload = parseRpcFrame(frame);
    if (payload instanceof InvalidRpcError) return this.#invalid(payload);
    if (payload.batch) return this.#serveBatch(payload.items, context);
    const r = this.#one(payload.message, context);
    return r instanceof Promise ? r.then(serializeOptional) : serializeOptional(r);
  }

  async #serveBatch(items: readonly (RpcMessage | InvalidRpcError)[], context: MessageContext): Promise<string | undefined> {
    const rs = (
      await Promise.all(items.map((item) => (item instanceof InvalidRpcError ? errorResponseFor(item) : this.#one(item, context))))
    ).filter((r): r is RpcResponse => r !== undefined);
    return rs.length > 0 ? serialize(rs) : undefined;
  }

  /** Sends the replies to `message`; undefined when there is nothing to send. */
  #reply(message: VipMessage, frames: readonly (string | undefined)[]): Promise<void> | undefined {
    const args = frames.filter((f): f is string => f !== undefined);
    if (args.length === 0 || message.peer.length === 0) return undefined;
    return this.#core.send({ peer: message.peer, id: message.id, subsystem: 'RPC', args });
  }

  #replyOne(message: VipMessage, frame: string | undefined): Promise<void> | undefined {
    if (frame === undefined || message.peer.length === 0) return undefined;
    return this.#core.send({ peer: message.peer, id: message.id, subsystem: 'RPC', args: [frame] });
  }

  handleError(error: WireError, message: VipMessage): void {
    const key = frameText(message.id);
    const members = this.#batches.get(key);
    if (!members) return;
    this.#batches.delete(key);
    for (const id of members) this.#core.fail(id, error, message.peer);
  }

  #one(m: RpcMessage, context: MessageContext): RpcResponse | undefined | Promise<RpcResponse | undefined> {
    if (m.kind === 'request') return this.#dispatcher.dispatch(m.request, context);
    const id = m.response.id;
    if (typeof id !== 'string') {
      this.#rejected += 1;
      return undefined;
    }
    // Only the peer the call went to answers it (AgentCore.settle): a forged response with a
    // matching id from anyone else is ignored and counted.
    if (m.kind === 'error') this.#core.fail(id, errorFromRpc(m.response.error), context.peer);
    else this.#core.settle(id, m.response.result, context.peer);
    return undefined;
  }

  #invalid(err: InvalidRpcError): string {
    this.#rejected += 1;
    this.#core.logger.debug('rpc.request.rejected', { reason: err.message });
    return serialize(errorResponseFor(err));
  }

  async #capabilitiesOf(user: string): Promise<UserCapabilities | undefined> {
    const source = this.#options.capabilities;
    if (typeof source === 'function') return entryOf(await source(), user);
    if (!this.#capabilities) {
      this.#fetching ??= this.#fetchCapabilities().finally(() => (this.#fetching = undefined));
      this.#capabilities = await this.#fetching;
    }
    return entryOf(this.#capabilities, user);
  }

  async #fetchCapabilities(): Promise<CapabilityMap | undefined> {
    const source = this.#options.capabilities;
    if (source !== undefined && typeof source !== 'function') return source;
    try {
      const r = CapabilityMapSchema.safeParse(await this.request('platform.auth', 'get_user_to_capabilities', { timeoutMs: 5_000 }));
      return r.success ? r.data : undefined;
    } catch (err) {
      this.#core.logger.warn('rpc.capabilities.unavailable', {}, err);
      return undefined;
    }
  }

  /**
   * VOLTTRON accepts `auth.update` only from `platform.auth` (docs/protocol.md 10); anyone else could
   * otherwise grant themselves capabilities. A map given in the options is fixed: pushes do not
   * replace it.
   */
  #authUpdate(caller: string, map: unknown): void {
    if (caller !== AUTH_IDENTITY) {
      throw new UnauthorizedError(`auth.update is accepted only from ${AUTH_IDENTITY}, not from ${caller}`, { subsystem: 'RPC' });
    }
    if (this.#options.capabilities !== undefined) return;
    const r = CapabilityMapSchema.safeParse(map);
    if (!r.success) {
      throw new TypeError(
        `auth.update: expected {user: capabilities (a name, a list, or {capability: null | {param: value}})}: ${r.error.message}`,
      );
    }
    this.#capabilities = r.data;
  }
}

const identityUser = (user: string): string => user;
const RPC_FRAME = textFrame('RPC');

/** A user's own entry of a capability map (never an inherited property such as `constructor`). */
function entryOf(map: CapabilityMap | undefined, user: string): UserCapabilities | undefined {
  return map !== undefined && Object.hasOwn(map, user) ? map[user] : undefined;
}

/** The dispatch context of one message: caller and user are decoded on first read. */
class MessageContext implements DispatchContext {
  readonly #message: VipMessage;
  readonly #userOf: (vipUser: string) => string;
  readonly capabilities: (user: string) => Promise<UserCapabilities | undefined>;
  #caller: string | undefined;
  #user: string | undefined;

  constructor(
    message: VipMessage,
    userOf: (vipUser: string) => string,
    capabilities: (user: string) => Promise<UserCapabilities | undefined>,
  ) {
    this.#message = message;
    this.#userOf = userOf;
    this.capabilities = capabilities;
  }

  /** The peer frame of the message (the router wrote it from the sender's routing identity). */
  get peer(): Frame {
    return this.#message.peer;
  }

  get caller(): string {
    return (this.#caller ??= frameText(this.#message.peer));
  }

  get user(): string {
    return (this.#user ??= this.#userOf(frameText(this.#message.user)));
  }
}

const serializeOptional = (r: RpcResponse | undefined): string | undefined => (r === undefined ? undefined : serialize(r));

/** The identity of the platform's auth service, the only peer allowed to push capabilities. */
const AUTH_IDENTITY = 'platform.auth';

/** Python's text of a response; a result JSON cannot carry becomes a -32000 TypeError. */
function serialize(r: RpcResponse | RpcResponse[]): string {
  try {
    return pythonJson(r);
  } catch (err) {
    const id = Array.isArray(r) ? null : r.id;
    const detail = `result is not JSON serializable: ${err instanceof Error ? err.message : String(err)}`;
    return pythonJson(unhandledException(id, { detail, excType: 'builtins.TypeError', excArgs: [detail] }));
  }
}

/**
 * The typed error for a JSON-RPC error object (Python `exception_from_json`); a refused capability
 * check (exc_type `volttron.platform.jsonrpc.Error`, exc_args `[-32001, text]`) is the protocol's
 * UnauthorizedError, whatever refused it.
 */
export function errorFromRpc(error: RpcErrorObject): RpcError | UnauthorizedError | PlatformUnreachableError | PeerUnreachableError {
  if (error.code === EXTERNAL_RPC_ERROR_CODES.PLATFORM_UNREACHABLE || error.code === EXTERNAL_RPC_ERROR_CODES.PEER_UNREACHABLE) {
    const data = ExternalRpcErrorDataSchema.safeParse(error.data);
    if (data.success) {
      return error.code === EXTERNAL_RPC_ERROR_CODES.PLATFORM_UNREACHABLE
        ? new PlatformUnreachableError(data.data.platform, data.data.reason, error.message)
        : new PeerUnreachableError(data.data.peer ?? '', 'RPC');
    }
  }
  const { detail, exception } = readErrorData(error);
  if (error.code === RPC_ERROR_CODES.METHOD_NOT_FOUND) {
    const m = /method '(.*)' is not implemented/.exec(detail ?? '');
    return new MethodNotFoundError(m?.[1] ?? '', error.data);
  }
  if (error.code === RPC_ERROR_CODES.UNHANDLED_EXCEPTION && exception) {
    const text = detail ?? error.message;
    const code = exception.exc_args[0];
    if (exception.exc_type === UNAUTHORIZED_EXC_TYPE && (code === undefined || code === UNAUTHORIZED_ERRNUM)) {
      return new UnauthorizedError(text, { subsystem: 'RPC', excArgs: exception.exc_args, excTb: exception.exc_tb, data: error.data });
    }
    return new RemoteError(text, exception.exc_type, exception.exc_args, exception.exc_tb, error.data);
  }
  return new RpcError(error.code, error.message, error.data);
}
