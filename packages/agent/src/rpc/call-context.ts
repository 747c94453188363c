import type { RpcCallContext } from './exports.js';

// Deliberately not AsyncLocalStorage: on Node 20 it installs process-wide promise hooks, a cost
// every promise in the process would pay (the platform hosts the `control` agent too).
let current: RpcCallContext | undefined;

/** `handler.apply(context, args)` with `context` as the current RPC call context (no closure per call). */
export function applyWithRpcContext(
  context: RpcCallContext,
  handler: (this: RpcCallContext, ...args: never[]) => unknown,
  args: unknown[],
): unknown {
  const previous = current;
  current = context;
  try {
    return handler.apply(context, args as never[]);
  } finally {
    current = previous;
  }
}

/**
 * The context of the RPC call being served (caller, user, method). Read it synchronously at the
 * start of an exported method, before its first `await`; `this` carries the same context for
 * the whole call.
 */
export function rpcContext(): RpcCallContext | undefined {
  return current;
}
