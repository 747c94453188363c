import { WireError } from './errors.js';

/**
 * errnum -32001, JSON-RPC's UNAUTHORIZED: VOLTTRON's number for a refused capability check in
 * both of its wire forms (the errnum of pubsub's VIP `error`, the first `exc_args` of RPC's).
 */
export const UNAUTHORIZED_ERRNUM = -32001;

/** The Python type a refused RPC capability check travels as (`exception.py` `exc_type`). */
export const UNAUTHORIZED_EXC_TYPE = 'volttron.platform.jsonrpc.Error';

export interface UnauthorizedErrorOptions extends ErrorOptions {
  /** Who refused, as the wire names it: `''` for the router (pubsub). */
  readonly peer?: string;
  /** The subsystem of the refused request: `pubsub` (default) or `RPC`. */
  readonly subsystem?: string;
  /** The capabilities the refused action needs, when the refusing side says. */
  readonly required?: readonly string[];
  /** The user refused, when known. */
  readonly user?: string;
  /** The protected topic of a refused publish. */
  readonly topic?: string;
  /** The RPC form as received: the remote exception's `exc_args` (default `[-32001, detail]`), traceback and `data`. */
  readonly excArgs?: readonly unknown[];
  readonly excTb?: string;
  readonly data?: unknown;
}

/**
 * A refused capability check, whoever refused and however it travelled: the one "unauthorized"
 * error of vip (code `VIP_UNAUTHORIZED`, errnum -32001; `detail` and `message` are the refusal
 * text as VOLTTRON words it). Its wire forms:
 * - pubsub (docs/protocol.md 3.7): a VIP `error` message `-32001 | detail | '' | pubsub` (`errorArgsFor`,
 *   read back by `errorFromArgs`);
 * - RPC (docs/protocol.md 4.3): a JSON-RPC -32000 `unhandled exception` whose `exception.py` is
 *   `{exc_type: UNAUTHORIZED_EXC_TYPE, exc_args: [-32001, detail]}` (`excType`, `excArgs`: what an
 *   RPC dispatcher sends for a thrown error; read back by `@vip/agent`).
 * A WireError because it is one in both forms: a refusal with an errnum, a peer and a subsystem.
 */
export class UnauthorizedError extends WireError {
  override readonly code = 'VIP_UNAUTHORIZED';
  readonly excType = UNAUTHORIZED_EXC_TYPE;
  readonly excArgs: readonly unknown[];
  readonly excTb: string | undefined;
  readonly data: unknown;
  readonly detail: string;
  readonly required: readonly string[] | undefined;
  readonly user: string | undefined;
  readonly topic: string | undefined;
  constructor(detail: string, options: UnauthorizedErrorOptions = {}) {
    const { peer = '', subsystem = 'pubsub', cause } = options;
    super(UNAUTHORIZED_ERRNUM, detail, peer, subsystem, cause === undefined ? undefined : { cause });
    this.name = 'UnauthorizedError';
    this.detail = detail;
    this.excArgs = options.excArgs ?? [UNAUTHORIZED_ERRNUM, detail];
    this.excTb = options.excTb;
    this.data = options.data;
    this.required = options.required;
    this.user = options.user;
    this.topic = options.topic;
  }
}
