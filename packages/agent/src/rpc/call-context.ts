import type { RpcCallContext } from './exports.js';

// Deliberately not AsyncLocalStorage: on Node 20 it installs process-wide promise hooks, a cost
// every promise in the process would pay (the platform hosts the `control` agent too).
let current: RpcCallContext | undefined;

/** Run `fn` with `context` as the current RPC call context (synchronously). */
export function runWithRpcContext<T>(context: RpcCallContext, fn: () => T): T {
  const previous = current;
  current = context;
  try {
    return fn();
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
