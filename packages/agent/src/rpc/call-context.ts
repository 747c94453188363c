import { AsyncLocalStorage } from 'node:async_hooks';
import type { RpcCallContext } from './exports.js';

const storage = new AsyncLocalStorage<RpcCallContext>();

/** Run `fn` with `context` as the current RPC call context. */
export function runWithRpcContext<T>(context: RpcCallContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of the RPC call being served (caller, user, method), inside an exported method. */
export function rpcContext(): RpcCallContext | undefined {
  return storage.getStore();
}
