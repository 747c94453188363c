import {
  buildResult,
  decodeParams,
  methodNotFound,
  unhandledException,
  type RpcErrorResponse,
  type RpcRequest,
  type RpcResponse,
} from '@vip/protocol';
import { checkCapabilities, type UserCapabilities } from './capabilities.js';
import { applyWithRpcContext } from './call-context.js';
import type { ExportedMethod, RpcCallContext } from './exports.js';
import { bindParams, ParamBindingError, type BoundCall } from './params.js';
import { describeMethod } from './inspect.js';

export interface DispatchContext {
  readonly caller: string;
  readonly user: string;
  /** Capabilities of `user`, fetched only when a method requires some. */
  readonly capabilities: (user: string) => Promise<UserCapabilities | undefined>;
}

type Outcome = { result: unknown } | { error: RpcErrorResponse };

/**
 * The callee side of JSON-RPC (VOLTTRON `jsonrpc.Dispatcher` + `rpc.Dispatcher`): one valid
 * request in, its response out (undefined for notifications). Built-ins: `inspect`, `<m>.inspect`.
 *
 * `dispatch` answers synchronously when it can (the method returned a plain value and needs no
 * capability lookup) and with a promise otherwise: the common call then costs no promise and
 * no microtask hops between the request arriving and its response leaving.
 */
export class RpcDispatcher {
  readonly #methods: ReadonlyMap<string, ExportedMethod>;

  constructor(methods: ReadonlyMap<string, ExportedMethod>) {
    this.#methods = methods;
  }

  dispatch(req: RpcRequest, ctx: DispatchContext): RpcResponse | undefined | Promise<RpcResponse | undefined> {
    const outcome = this.#invoke(req, ctx);
    return outcome instanceof Promise ? outcome.then((o) => finish(req.id, o)) : finish(req.id, outcome);
  }

  #invoke(req: RpcRequest, ctx: DispatchContext): Outcome | Promise<Outcome> {
    const name = req.method;
    const id = req.id ?? null;
    if (name === 'inspect') return { result: { methods: [...this.#methods.keys()] } };
    if (name.endsWith('.inspect') && !this.#methods.has(name)) {
      const target = this.#methods.get(name.slice(0, -'.inspect'.length));
      if (target) return { result: describeMethod(target) };
    }
    const method = this.#methods.get(name);
    if (!method) return { error: methodNotFound(id, name) };
    let bound: BoundCall;
    try {
      const { args, kwargs } = decodeParams(req.params);
      bound = bindParams(name, method.params, args, kwargs);
    } catch (err) {
      return failure(id, method, err);
    }
    if (method.allow.length === 0) return invoke(id, method, bound, ctx);
    return ctx.capabilities(ctx.user).then(
      (capabilities) => {
        try {
          const refusal = checkCapabilities(name, method.allow, ctx.user, capabilities, () => bound.byName);
          return refusal ? failure(id, method, refusal) : invoke(id, method, bound, ctx);
        } catch (err) {
          return failure(id, method, err);
        }
      },
      (err: unknown) => failure(id, method, err),
    );
  }
}

function finish(id: RpcRequest['id'], outcome: Outcome): RpcResponse | undefined {
  return id === undefined ? undefined : 'error' in outcome ? outcome.error : buildResult(id, outcome.result);
}

function failure(id: string | number | null, method: ExportedMethod, err: unknown): Outcome {
  return { error: unhandledException(id, describeException(err, method.traceback)) };
}

/** Caller and user are read through, so they are only decoded if the method looks at them. */
class CallContext implements RpcCallContext {
  readonly #ctx: DispatchContext;
  readonly method: string;

  constructor(ctx: DispatchContext, method: string) {
    this.#ctx = ctx;
    this.method = method;
  }

  get caller(): string {
    return this.#ctx.caller;
  }

  get user(): string {
    return this.#ctx.user;
  }
}

function invoke(id: string | number | null, method: ExportedMethod, bound: BoundCall, ctx: DispatchContext): Outcome | Promise<Outcome> {
  const callContext = new CallContext(ctx, method.name);
  let result: unknown;
  try {
    result = applyWithRpcContext(callContext, method.handler, bound.callArgs);
  } catch (err) {
    return failure(id, method, err);
  }
  // A thenable is awaited (as `await` would); a plain value answers at once.
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (value): Outcome => ({ result: value }),
      (err: unknown) => failure(id, method, err),
    );
  }
  return { result };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

const EXC_TYPES: Readonly<Record<string, string>> = {
  Error: 'builtins.Exception',
  TypeError: 'builtins.TypeError',
  RangeError: 'builtins.ValueError',
  SyntaxError: 'builtins.SyntaxError',
  ReferenceError: 'builtins.NameError',
};

/** A thrown value as VOLTTRON serializes exceptions (`exception.py`: exc_type, exc_args, exc_tb). */
export function describeException(
  err: unknown,
  traceback: boolean,
): { detail: string; excType: string; excArgs: unknown[]; excTb?: string } {
  if (!(err instanceof Error)) return { detail: String(err), excType: 'builtins.Exception', excArgs: [err] };
  const e = err as Error & { excType?: unknown; excArgs?: unknown };
  const excType =
    typeof e.excType === 'string' ? e.excType : err instanceof ParamBindingError ? 'builtins.TypeError' : (EXC_TYPES[err.name] ?? err.name);
  const excArgs = Array.isArray(e.excArgs) ? (e.excArgs as unknown[]) : [err.message];
  return traceback && err.stack ? { detail: err.message, excType, excArgs, excTb: err.stack } : { detail: err.message, excType, excArgs };
}
