import {
  buildResult, decodeParams, methodNotFound, unhandledException,
  type RpcErrorResponse, type RpcRequest, type RpcResponse,
} from '@vip/protocol';
import { checkCapabilities, type UserCapabilities } from './capabilities.js';
import { runWithRpcContext } from './call-context.js';
import type { ExportedMethod, RpcCallContext } from './exports.js';
import { bindParams, ParamBindingError } from './params.js';
import { describeMethod } from './inspect.js';

export interface DispatchContext {
  readonly caller: string;
  readonly user: string;
  /** Capabilities of `user`, fetched only when a method requires some. */
  readonly capabilities: (user: string) => Promise<UserCapabilities | undefined>;
}

/**
 * The callee side of JSON-RPC (VOLTTRON `jsonrpc.Dispatcher` + `rpc.Dispatcher`): one valid
 * request in, its response out (undefined for notifications). Built-ins: `inspect`, `<m>.inspect`.
 */
export class RpcDispatcher {
  readonly #methods: ReadonlyMap<string, ExportedMethod>;

  constructor(methods: ReadonlyMap<string, ExportedMethod>) {
    this.#methods = methods;
  }

  async dispatch(req: RpcRequest, ctx: DispatchContext): Promise<RpcResponse | undefined> {
    const id = req.id;
    const response = await this.#invoke(req, ctx);
    return id === undefined ? undefined : 'error' in response ? response.error : buildResult(id, response.result);
  }

  async #invoke(req: RpcRequest, ctx: DispatchContext): Promise<{ result: unknown } | { error: RpcErrorResponse }> {
    const name = req.method;
    const id = req.id ?? null;
    if (name === 'inspect') return { result: { methods: [...this.#methods.keys()] } };
    if (name.endsWith('.inspect') && !this.#methods.has(name)) {
      const target = this.#methods.get(name.slice(0, -'.inspect'.length));
      if (target) return { result: describeMethod(target) };
    }
    const method = this.#methods.get(name);
    if (!method) return { error: methodNotFound(id, name) };
    try {
      const { args, kwargs } = decodeParams(req.params);
      const bound = bindParams(name, method.params, args, kwargs);
      if (method.allow.length > 0) {
        const refusal = checkCapabilities(name, method.allow, ctx.user, await ctx.capabilities(ctx.user), bound.byName);
        if (refusal) throw refusal;
      }
      const callContext: RpcCallContext = { caller: ctx.caller, user: ctx.user, method: name };
      const result = await runWithRpcContext(callContext, () => method.handler.apply(callContext, bound.callArgs));
      return { result };
    } catch (err) {
      return { error: unhandledException(id, describeException(err, method.traceback)) };
    }
  }
}

const EXC_TYPES: Readonly<Record<string, string>> = {
  Error: 'builtins.Exception',
  TypeError: 'builtins.TypeError',
  RangeError: 'builtins.ValueError',
  SyntaxError: 'builtins.SyntaxError',
  ReferenceError: 'builtins.NameError',
};

/** A thrown value as VOLTTRON serializes exceptions (`exception.py`: exc_type, exc_args, exc_tb). */
export function describeException(err: unknown, traceback: boolean): { detail: string; excType: string; excArgs: unknown[]; excTb?: string } {
  if (!(err instanceof Error)) return { detail: String(err), excType: 'builtins.Exception', excArgs: [err] };
  const e = err as Error & { excType?: unknown; excArgs?: unknown };
  const excType = typeof e.excType === 'string' ? e.excType : err instanceof ParamBindingError ? 'builtins.TypeError' : (EXC_TYPES[err.name] ?? err.name);
  const excArgs = Array.isArray(e.excArgs) ? (e.excArgs as unknown[]) : [err.message];
  return traceback && err.stack ? { detail: err.message, excType, excArgs, excTb: err.stack } : { detail: err.message, excType, excArgs };
}
