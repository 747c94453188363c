import { z } from 'zod';
import type { Frame } from './frames.js';
import { InvalidRpcError } from './invalid-rpc-error.js';
import { pythonJson } from './python-json.js';
import { randomUint53 } from './random-id.js';

/**
 * JSON-RPC 2.0 as VOLTTRON speaks it (docs/protocol.md 4.1-4.4, `jsonrpc.py`, `subsystems/rpc.py`).
 * One VIP `RPC` frame carries one JSON-RPC object, or a batch as one JSON array. Objects are built
 * with keys in the order Python writes them, and rendered with `pythonJson`.
 */

export const JSONRPC_VERSION = '2.0';

/** Error codes of `jsonrpc.py` (docs/protocol.md 4.3). */
export const RPC_ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  UNHANDLED_EXCEPTION: -32000,
  UNAUTHORIZED: -32001,
  UNABLE_TO_REGISTER_INSTANCE: -32002,
  DISCOVERY_ERROR: -32003,
  UNABLE_TO_UNREGISTER_INSTANCE: -32004,
  UNAVAILABLE_PLATFORM: -32005,
  UNAVAILABLE_AGENT: -32006,
} as const;

const RpcIdSchema = z.union([z.string(), z.number(), z.null()]);
export type RpcId = z.infer<typeof RpcIdSchema>;

const ParamsSchema = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);
export type RpcParams = z.infer<typeof ParamsSchema>;

/** `data["exception.py"]`: a Python exception as the callee serializes it. */
export const PythonExceptionSchema = z.object({
  exc_tb: z.string().optional(),
  exc_type: z.string(),
  exc_args: z.array(z.unknown()).default([]),
});
export type PythonException = z.infer<typeof PythonExceptionSchema>;

export const RpcErrorDataSchema = z.looseObject({
  detail: z.string().optional(),
  'exception.py': PythonExceptionSchema.optional(),
});
export type RpcErrorData = z.infer<typeof RpcErrorDataSchema>;

export const RpcErrorObjectSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.unknown().optional(),
});
export type RpcErrorObject = z.infer<typeof RpcErrorObjectSchema>;

export const RpcRequestSchema = z.object({
  jsonrpc: z.literal(JSONRPC_VERSION),
  method: z.string(),
  params: ParamsSchema.optional(),
  id: RpcIdSchema.optional(),
});
export type RpcRequest = z.infer<typeof RpcRequestSchema>;

export const RpcResultResponseSchema = z.object({ jsonrpc: z.literal(JSONRPC_VERSION), id: RpcIdSchema, result: z.unknown() });
export type RpcResultResponse = z.infer<typeof RpcResultResponseSchema>;

export const RpcErrorResponseSchema = z.object({ jsonrpc: z.literal(JSONRPC_VERSION), id: RpcIdSchema, error: RpcErrorObjectSchema });
export type RpcErrorResponse = z.infer<typeof RpcErrorResponseSchema>;

export type RpcResponse = RpcResultResponse | RpcErrorResponse;

/** Any single JSON-RPC object (request, error response or result response) as one zod schema. */
export const RpcObjectSchema = z.union([RpcRequestSchema, RpcErrorResponseSchema, RpcResultResponseSchema]);
export type RpcObject = z.infer<typeof RpcObjectSchema>;

/** One parsed JSON-RPC object, tagged. */
export type RpcMessage =
  | { readonly kind: 'request'; readonly request: RpcRequest }
  | { readonly kind: 'result'; readonly response: RpcResultResponse }
  | { readonly kind: 'error'; readonly response: RpcErrorResponse };

/** What one RPC frame holds: a single object, or a batch whose items each parse or fail on their own. */
export type RpcPayload =
  | { readonly batch: false; readonly message: RpcMessage }
  | { readonly batch: true; readonly items: ReadonlyArray<RpcMessage | InvalidRpcError> };

export interface RequestOptions {
  /** Positional arguments. */
  readonly args?: readonly unknown[] | undefined;
  /** Keyword arguments. */
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined;
  /** The request id; omitted = notification (no response). */
  readonly id?: RpcId | undefined;
}

/** `params` as VOLTTRON encodes a call: positional -> array, keyword -> object, both -> `*args`/`**kwargs`, none -> omitted. */
export function encodeParams(args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}): RpcParams | undefined {
  const hasKw = Object.keys(kwargs).length > 0;
  if (args.length > 0 && hasKw) return { '*args': [...args], '**kwargs': { ...kwargs } };
  if (hasKw) return { ...kwargs };
  if (args.length > 0) return [...args];
  return undefined;
}

/** Callee side: split `params` back into positional and keyword arguments, as `Dispatcher.method` does. */
export function decodeParams(params: RpcParams | undefined): { args: unknown[]; kwargs: Record<string, unknown> } {
  if (params === undefined) return { args: [], kwargs: {} };
  if (Array.isArray(params)) return { args: params, kwargs: {} };
  const args = params['*args'];
  const kwargs = params['**kwargs'];
  if ('*args' in params && '**kwargs' in params && Array.isArray(args) && isPlainObject(kwargs)) return { args, kwargs };
  return { args: [], kwargs: params };
}

/** A request object, keys in Python's order (jsonrpc, method, params, id). No `id` makes it a notification. */
export function buildRequest(method: string, options: RequestOptions = {}): RpcRequest {
  const params = encodeParams(options.args, options.kwargs);
  const out: { jsonrpc: typeof JSONRPC_VERSION; method: string; params?: RpcParams; id?: RpcId } = { jsonrpc: JSONRPC_VERSION, method };
  if (params !== undefined) out.params = params;
  if (options.id !== undefined) out.id = options.id;
  return out;
}

/** A result response (`null` for a missing result, as Python's None). */
export function buildResult(id: RpcId, result: unknown): RpcResultResponse {
  return { jsonrpc: JSONRPC_VERSION, id, result: result === undefined ? null : result };
}

/** An error response; `data` is omitted when empty. */
export function buildError(id: RpcId, code: number, message: string, data?: Readonly<Record<string, unknown>>): RpcErrorResponse {
  const error: RpcErrorObject =
    data !== undefined && Object.keys(data).length > 0 ? { code, message, data: { ...data } } : { code, message };
  return { jsonrpc: JSONRPC_VERSION, id, error };
}

/** -32601 as a Python agent answers an unknown method. */
export function methodNotFound(id: RpcId, method: string): RpcErrorResponse {
  return buildError(id, RPC_ERROR_CODES.METHOD_NOT_FOUND, 'unimplemented method', { detail: `method '${method}' is not implemented` });
}

/** -32000 "unhandled exception" with `detail` and the `exception.py` block (exc_tb only when given). */
export function unhandledException(
  id: RpcId,
  exception: {
    readonly detail: string;
    readonly excType: string;
    readonly excArgs?: readonly unknown[];
    readonly excTb?: string | undefined;
  },
): RpcErrorResponse {
  const block: Record<string, unknown> = {};
  if (exception.excTb !== undefined) block.exc_tb = exception.excTb;
  block.exc_type = exception.excType;
  block.exc_args = [...(exception.excArgs ?? [])];
  return buildError(id, RPC_ERROR_CODES.UNHANDLED_EXCEPTION, 'unhandled exception', { detail: exception.detail, 'exception.py': block });
}

/** The `detail` and `exception.py` block of an error object, when its `data` has them in the expected shape. */
export function readErrorData(error: RpcErrorObject): { detail?: string; exception?: PythonException } {
  const r = RpcErrorDataSchema.safeParse(error.data);
  if (!r.success) return {};
  const out: { detail?: string; exception?: PythonException } = {};
  if (r.data.detail !== undefined) out.detail = r.data.detail;
  if (r.data['exception.py'] !== undefined) out.exception = r.data['exception.py'];
  return out;
}

/** The error response a Python callee sends for an invalid payload. */
export function errorResponseFor(err: InvalidRpcError): RpcErrorResponse {
  return buildError(err.id, err.rpcCode, err.rpcMessage, { detail: err.rpcDetail });
}

/** A batch is a plain array of objects. */
export function buildBatch(items: ReadonlyArray<RpcRequest | RpcResponse>): Array<RpcRequest | RpcResponse> {
  return [...items];
}

/** The frame text of a JSON-RPC object or batch, exactly as Python writes it. */
export function rpcText(payload: RpcRequest | RpcResponse | ReadonlyArray<RpcRequest | RpcResponse>): string {
  return pythonJson(payload);
}

/**
 * Parses an RPC frame (bytes or text). Never throws: garbage yields an InvalidRpcError carrying the
 * code Python answers with (a frame that is not JSON, or JSON that is not an object or array, is
 * -32600 "invalid object type", because Python's frame decoder keeps non-JSON text as a string).
 */
export function parseRpcFrame(frame: Frame | string): RpcPayload | InvalidRpcError {
  const text = typeof frame === 'string' ? frame : frame.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // not JSON: Python sees a str
  }
  if (Array.isArray(value)) return { batch: true, items: value.map((item: unknown) => parseRpcMessage(item)) };
  const one = parseRpcMessage(value);
  return one instanceof InvalidRpcError ? one : { batch: false, message: one };
}

/** Parses one JSON-RPC object (already JSON-decoded). Never throws. */
export function parseRpcMessage(value: unknown): RpcMessage | InvalidRpcError {
  return wellFormedMessage(value) ?? checkRpcMessage(value);
}

/**
 * Fast path of `parseRpcMessage`: the shapes every peer sends, checked by hand (a request with
 * string method, list/dict params and a string/number/null id; a result; an error with an integer
 * code and a string message). It returns what the zod schemas return for them (same keys, unknown
 * members left out) and undefined for anything else, which `checkRpcMessage` then judges and
 * explains with the schemas. Three zod parses per call cost more than the rest of the decode.
 */
function wellFormedMessage(value: unknown): RpcMessage | undefined {
  if (!isPlainObject(value) || value.jsonrpc !== JSONRPC_VERSION) return undefined;
  const id = value.id;
  if ('method' in value) {
    const { method, params } = value;
    if (typeof method !== 'string' || (id !== undefined && !isRpcId(id))) return undefined;
    if (params !== undefined && typeof params !== 'object') return undefined; // null fails isPlainObject too
    if (params !== undefined && !Array.isArray(params) && !isPlainObject(params)) return undefined;
    const request: RpcRequest = { jsonrpc: JSONRPC_VERSION, method };
    if (params !== undefined) request.params = params as RpcParams;
    if (id !== undefined) request.id = id;
    return { kind: 'request', request };
  }
  if (!isRpcId(id)) return undefined;
  if ('error' in value) {
    const e = value.error;
    if (!isPlainObject(e) || typeof e.message !== 'string' || typeof e.code !== 'number' || !Number.isSafeInteger(e.code)) return undefined;
    const error: RpcErrorObject = { code: e.code, message: e.message };
    if (e.data !== undefined) error.data = e.data;
    return { kind: 'error', response: { jsonrpc: JSONRPC_VERSION, id, error } };
  }
  if ('result' in value) return { kind: 'result', response: { jsonrpc: JSONRPC_VERSION, id, result: value.result } };
  return undefined;
}

function isRpcId(id: unknown): id is RpcId {
  return typeof id === 'string' || id === null || (typeof id === 'number' && Number.isFinite(id));
}

/** The schema-checked path of `parseRpcMessage`: unusual and invalid messages, with Python's error texts. */
function checkRpcMessage(value: unknown): RpcMessage | InvalidRpcError {
  if (!isPlainObject(value)) {
    return new InvalidRpcError(
      RPC_ERROR_CODES.INVALID_REQUEST,
      'invalid object type',
      `expected a list or dictionary ; got a '${pythonTypeName(value)}' instead`,
    );
  }
  const rawId = value.id;
  const id = RpcIdSchema.safeParse(rawId).success ? (rawId as RpcId) : null;
  if (!('jsonrpc' in value))
    return new InvalidRpcError(RPC_ERROR_CODES.INVALID_REQUEST, 'missing required member', 'missing required member: jsonrpc', id);
  if (value.jsonrpc !== JSONRPC_VERSION) {
    return new InvalidRpcError(
      RPC_ERROR_CODES.INVALID_REQUEST,
      'unsupported version',
      `unsupported version: ${JSON.stringify(value.jsonrpc)}`,
      id,
    );
  }
  if ('method' in value) {
    if ('params' in value && value.params !== undefined && !ParamsSchema.safeParse(value.params).success) {
      return new InvalidRpcError(
        RPC_ERROR_CODES.INVALID_PARAMS,
        'invalid object type',
        `expected a list or dictionary for params; got a '${pythonTypeName(value.params)}' instead`,
        id,
      );
    }
    const r = RpcRequestSchema.safeParse(value);
    return r.success ? { kind: 'request', request: r.data } : invalid(r.error, id);
  }
  if ('error' in value) {
    const r = RpcErrorResponseSchema.safeParse(value);
    return r.success ? { kind: 'error', response: r.data } : invalid(r.error, id);
  }
  if ('result' in value) {
    const r = RpcResultResponseSchema.safeParse(value);
    return r.success ? { kind: 'result', response: r.data } : invalid(r.error, id);
  }
  return new InvalidRpcError(
    RPC_ERROR_CODES.INVALID_REQUEST,
    'missing required member',
    'missing required member: method, result or error',
    id,
  );
}

/**
 * Request ids that never parse as JSON, in VOLTTRON's ResultsDictionary form
 * `"<counter>.000000.<hash>.000000"` (two dots, docs/protocol.md 1.5): the counter starts at
 * `startSeconds` (Unix time) and counts up, so ids are unique per generator; the second part is
 * 53 random bits (`random`, default the OS CSPRNG) where VOLTTRON has an object hash, so a peer
 * cannot guess the id of a request in flight and answer it first. Use one for the JSON-RPC `id`
 * and for the VIP message id.
 */
export function createRpcIdGenerator(
  startSeconds: number = Math.floor(Date.now() / 1000),
  random: () => number = randomUint53,
): () => string {
  let counter = Math.floor(startSeconds);
  return () => `${counter++}.000000.${random()}.000000`;
}

function invalid(error: z.ZodError, id: RpcId): InvalidRpcError {
  const why = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return new InvalidRpcError(RPC_ERROR_CODES.INVALID_REQUEST, 'invalid request', why, id);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Python's type name of a JSON-decoded value, for error details. */
function pythonTypeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'dict' : typeof v;
}
