import { normalizeParams, type NormalParam, type ParamSpec } from './params.js';

/** What an exported method sees as `this`: who called and how. */
export interface RpcCallContext {
  /** The caller's VIP identity (the message's peer frame). */
  readonly caller: string;
  /** The caller's user id (the VIP user frame; on ZeroMQ the caller identity). */
  readonly user: string;
  readonly method: string;
}

// Exported methods take any JSON values; `unknown[]` would force casts on every user.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RpcHandler = (this: RpcCallContext, ...args: any[]) => unknown;

export interface ExportOptions {
  /** Declared parameters: enables keyword and mixed calls, `<method>.inspect`, parameter capability checks. */
  readonly params?: readonly ParamSpec[];
  /** Required capabilities (`@RPC.allow`); checked against the caller's user id. */
  readonly allow?: string | readonly string[];
  readonly doc?: string;
  /** `return` annotation text shown by `<method>.inspect`. */
  readonly returns?: string;
  /** Include the JavaScript stack as `exc_tb` when the method throws (default true). */
  readonly traceback?: boolean;
}

export interface ExportedMethod {
  readonly name: string;
  readonly handler: RpcHandler;
  readonly params: readonly NormalParam[] | undefined;
  readonly allow: readonly string[];
  readonly doc: string | undefined;
  readonly returns: string | undefined;
  readonly traceback: boolean;
  /** Where it was exported (a stack line), for `<method>.inspect`'s `source`. */
  readonly site: string | undefined;
}

export function makeExported(name: string, handler: RpcHandler, options: ExportOptions = {}, site?: string): ExportedMethod {
  const allow = options.allow === undefined ? [] : typeof options.allow === 'string' ? [options.allow] : [...options.allow];
  return {
    name,
    handler,
    params: options.params ? normalizeParams(options.params) : undefined,
    allow,
    doc: options.doc,
    returns: options.returns,
    traceback: options.traceback ?? true,
    site,
  };
}

/** Methods marked by the `exported` decorator, per instance. */
const marked = new WeakMap<object, Map<string, { method: RpcHandler; options: ExportOptions }>>();

/**
 * Standard (TC39) method decorator: `@exported({ params: ['x'] })` marks a method, and
 * `agent.rpc.exportObject(instance)` exports every marked method of that instance.
 * `@exported({ name: 'other.name' })` chooses the RPC name.
 */
export function exported(options: ExportOptions & { readonly name?: string } = {}) {
  return function mark<This extends object>(method: RpcHandler, context: ClassMethodDecoratorContext<This>): void {
    if (context.private || context.static) throw new TypeError('@exported applies to public instance methods');
    const rpcName = options.name ?? String(context.name);
    context.addInitializer(function (this: This) {
      let m = marked.get(this);
      if (!m) marked.set(this, (m = new Map()));
      m.set(rpcName, { method, options });
    });
  };
}

/** Methods of `instance` marked with `@exported`, bound to it. */
export function markedMethods(instance: object): { name: string; handler: RpcHandler; options: ExportOptions }[] {
  const m = marked.get(instance);
  if (!m) return [];
  return [...m].map(([name, { method, options }]) => ({
    name,
    options,
    handler: function (this: RpcCallContext, ...args: unknown[]) {
      return method.apply(instance as unknown as RpcCallContext, args);
    },
  }));
}
