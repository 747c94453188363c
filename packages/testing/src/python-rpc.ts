import { pythonJson, type Frame } from '@vip/protocol';
import type { RawVipClient } from './raw-vip-client.js';

/** What a JSON-RPC reply held: `result`, or `error` ({code, message, data}). */
export interface PythonRpcReply {
  readonly frames: Frame[];
  readonly result?: unknown;
  readonly error?: {
    readonly code: number;
    readonly message: string;
    readonly data?: { readonly detail?: string; readonly 'exception.py'?: { readonly exc_type?: string; readonly exc_args?: unknown[] } };
  };
}

let counter = 1_796_653_400;

/**
 * An RPC call framed as a VOLTTRON 9 Python agent frames it (`rpc.py` `call` over `ResultsDictionary`):
 * VIP id `<counter>.<n>`, JSON-RPC id `<counter>.000000.<n>.000000`, body by `json.dumps`
 * (`jsonrpc, method, params?, id`, Python's separators); positional `params` as a list, keyword
 * ones as `{"*args": [...], "**kwargs": {...}}` (`kwargs` given). Waits for the reply with that id.
 */
export async function pythonRpcCall(
  client: RawVipClient,
  peer: string,
  method: string,
  params?: readonly unknown[],
  options: { kwargs?: Readonly<Record<string, unknown>>; timeoutMs?: number } = {},
): Promise<PythonRpcReply> {
  counter += 1;
  const n = 8_780_370_262_000 + counter;
  const vipId = `${counter}.${n}`;
  const rpcId = `${counter}.000000.${n}.000000`;
  const body: Record<string, unknown> = { jsonrpc: '2.0', method };
  if (options.kwargs) body.params = { '*args': params ?? [], '**kwargs': options.kwargs };
  else if (params !== undefined) body.params = params;
  body.id = rpcId;
  await client.sendVip(peer, 'RPC', [pythonJson(body)], { id: vipId });
  const frames = await client.receiveReply(vipId, 'RPC', { timeoutMs: options.timeoutMs ?? 10_000 });
  const reply = JSON.parse(frames[5]?.toString('utf8') ?? 'null') as { result?: unknown; error?: PythonRpcReply['error'] };
  return { frames, ...('error' in reply ? { error: reply.error } : { result: reply.result }) };
}
