import { describe, expect, it } from 'vitest';
import { InvalidRpcError } from '../src/invalid-rpc-error.js';
import {
  buildError,
  buildRequest,
  buildResult,
  createRpcIdGenerator,
  decodeParams,
  encodeParams,
  errorResponseFor,
  methodNotFound,
  parseRpcFrame,
  parseRpcMessage,
  readErrorData,
  RPC_ERROR_CODES,
  RpcObjectSchema,
  rpcText,
  unhandledException,
  type RpcMessage,
} from '../src/jsonrpc.js';
import { loadTranscript } from './transcripts.js';

/** Every RPC payload frame (frame 5 as the DEALER sees it) in a transcript. */
function rpcPayloads(name: string): string[] {
  return loadTranscript(name)
    .filter((e) => e.frames[4]?.toString() === 'RPC')
    .map((e) => (e.frames[5] as Buffer).toString('utf8'));
}

function single(text: string): RpcMessage {
  const p = parseRpcFrame(text);
  if (p instanceof InvalidRpcError || p.batch) throw new Error(`expected one message: ${text}`);
  return p.message;
}

describe('building JSON-RPC text as Python writes it', () => {
  it.each([
    [buildRequest('echo', { args: ['hello'], id: 'c1' }), '{"jsonrpc": "2.0", "method": "echo", "params": ["hello"], "id": "c1"}'],
    [
      buildRequest('echo', { kwargs: { x: 'kw', tag: 1 }, id: 'c2' }),
      '{"jsonrpc": "2.0", "method": "echo", "params": {"x": "kw", "tag": 1}, "id": "c2"}',
    ],
    [buildRequest('echo', { args: ['n'] }), '{"jsonrpc": "2.0", "method": "echo", "params": ["n"]}'],
    [buildRequest('no_such_method', { id: 'c4' }), '{"jsonrpc": "2.0", "method": "no_such_method", "id": "c4"}'],
    [
      buildRequest('f', { args: [1], kwargs: { a: 2 }, id: 7 }),
      '{"jsonrpc": "2.0", "method": "f", "params": {"*args": [1], "**kwargs": {"a": 2}}, "id": 7}',
    ],
    [buildResult('c1', 'hello'), '{"jsonrpc": "2.0", "id": "c1", "result": "hello"}'],
    [buildResult('c1', undefined), '{"jsonrpc": "2.0", "id": "c1", "result": null}'],
    [buildError('x', -32603, 'internal error'), '{"jsonrpc": "2.0", "id": "x", "error": {"code": -32603, "message": "internal error"}}'],
    [
      buildError('x', -32603, 'internal error', {}),
      '{"jsonrpc": "2.0", "id": "x", "error": {"code": -32603, "message": "internal error"}}',
    ],
    [[buildRequest('a', { id: 1 }), buildRequest('b')], '[{"jsonrpc": "2.0", "method": "a", "id": 1}, {"jsonrpc": "2.0", "method": "b"}]'],
  ])('case %#', (payload, text) => {
    expect(rpcText(payload)).toBe(text);
  });

  it('reproduces the error responses of a real agent byte for byte', () => {
    const [, , , fail, missing, garbage] = rpcPayloads('raw_rpc_errors');
    const tb = (JSON.parse(fail as string) as { error: { data: { 'exception.py': { exc_tb: string } } } }).error.data['exception.py']
      .exc_tb;
    expect(rpcText(unhandledException('c3', { detail: 'boom', excType: 'builtins.ValueError', excArgs: ['boom'], excTb: tb }))).toBe(fail);
    expect(rpcText(methodNotFound('c4', 'no_such_method'))).toBe(missing);
    const invalid = parseRpcFrame('{not json');
    expect(invalid).toBeInstanceOf(InvalidRpcError);
    expect(rpcText(errorResponseFor(invalid as InvalidRpcError))).toBe(garbage);
  });

  it('reproduces the agent-to-agent requests and responses of the transcripts', () => {
    for (const name of [
      'raw_rpc_call_response',
      'raw_rpc_call_kwargs',
      'raw_rpc_notify',
      'agent_rpc_call_response',
      'agent_rpc_notify',
      'agent_rpc_error',
    ]) {
      for (const text of rpcPayloads(name)) {
        const m = single(text);
        let rebuilt: unknown;
        if (m.kind === 'request') {
          const { args, kwargs } = decodeParams(m.request.params);
          rebuilt = buildRequest(m.request.method, { args, kwargs, id: m.request.id });
        } else if (m.kind === 'result') {
          rebuilt = buildResult(m.response.id, m.response.result);
        } else {
          const { detail, exception } = readErrorData(m.response.error);
          rebuilt =
            m.response.error.code === RPC_ERROR_CODES.UNHANDLED_EXCEPTION && exception
              ? unhandledException(m.response.id, {
                  detail: detail ?? '',
                  excType: exception.exc_type,
                  excArgs: exception.exc_args,
                  excTb: exception.exc_tb,
                })
              : buildError(m.response.id, m.response.error.code, m.response.error.message, { detail });
        }
        expect(rpcText(rebuilt as never), `${name}: ${text}`).toBe(text);
      }
    }
  });
});

describe('params', () => {
  it.each<[unknown[], Record<string, unknown>]>([
    [[], {}],
    [[1, 'a'], {}],
    [[], { a: 1 }],
    [[1], { a: 1 }],
  ])('encode/decode round trip %j %j', (args, kwargs) => {
    expect(decodeParams(encodeParams(args, kwargs))).toEqual({ args, kwargs });
  });
  it('treats a dict with only *args as keyword arguments, as Python does', () => {
    expect(decodeParams({ '*args': [1] })).toEqual({ args: [], kwargs: { '*args': [1] } });
  });
});

describe('parsing', () => {
  it.each<[unknown, number, string]>([
    ['text', -32600, 'invalid object type'],
    [5, -32600, 'invalid object type'],
    [null, -32600, 'invalid object type'],
    [{ method: 'x', id: 1 }, -32600, 'missing required member'],
    [{ jsonrpc: '1.0', method: 'x', id: 1 }, -32600, 'unsupported version'],
    [{ jsonrpc: '2.0', method: 'x', params: 'p', id: 1 }, -32602, 'invalid object type'],
    [{ jsonrpc: '2.0', method: 7, id: 1 }, -32600, 'invalid request'],
    [{ jsonrpc: '2.0', id: 1 }, -32600, 'missing required member'],
    [{ jsonrpc: '2.0', id: 1, error: { code: 'x' } }, -32600, 'invalid request'],
  ])('rejects %j with %d %s', (value, code, message) => {
    const r = parseRpcMessage(value);
    expect(r).toBeInstanceOf(InvalidRpcError);
    expect(r).toMatchObject({ rpcCode: code, rpcMessage: message, code: 'VIP_INVALID_PAYLOAD' });
  });
  it('keeps the id of an invalid request for the error response', () => {
    expect(parseRpcMessage({ jsonrpc: '1.0', method: 'x', id: 'abc' })).toMatchObject({ id: 'abc' });
  });
  it('parses a batch item by item', () => {
    const p = parseRpcFrame(Buffer.from('[{"jsonrpc": "2.0", "method": "a", "id": 1}, 3, {"jsonrpc": "2.0", "id": 1, "result": null}]'));
    expect(p).toMatchObject({ batch: true });
    if (p instanceof InvalidRpcError || !p.batch) return;
    expect(p.items.map((i) => (i instanceof InvalidRpcError ? 'invalid' : i.kind))).toEqual(['request', 'invalid', 'result']);
  });
  it('never throws on garbage', () => {
    for (const g of ['', '[', 'null', '{"jsonrpc": "2.0", "result": 1}', '\u0000\uffff', '[[[]]]', '{"__proto__": {"x": 1}}']) {
      expect(() => parseRpcFrame(g)).not.toThrow();
    }
  });
});

describe('createRpcIdGenerator', () => {
  it('produces ResultsDictionary-style ids that never parse as JSON', () => {
    const next = createRpcIdGenerator(1795545823, () => 8780370262263);
    const ids = Array.from({ length: 1000 }, next);
    expect(ids[0]).toBe('1795545823.000000.8780370262263.000000'); // the shape of agent_store_start's ids
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^\d+\.000000\.\d+\.000000$/);
      expect(() => JSON.parse(id)).toThrow();
    }
  });

  it('cannot be predicted from the start time and the ids seen before (the random part is not a counter)', () => {
    const a = createRpcIdGenerator(1795545823);
    const b = createRpcIdGenerator(1795545823);
    const hashes = (next: () => string) => Array.from({ length: 200 }, () => Number(next().split('.')[2]));
    const fromA = hashes(a);
    const fromB = hashes(b);
    expect(new Set([...fromA, ...fromB]).size).toBe(400);
    // Not an arithmetic sequence: no fixed step between consecutive values.
    expect(new Set(fromA.slice(1).map((v, i) => v - (fromA[i] as number))).size).toBeGreaterThan(190);
    for (const v of fromA) expect(Number.isSafeInteger(v) && v >= 0 && v < 2 ** 53).toBe(true);
  });
});

describe('RpcObjectSchema', () => {
  it('accepts every object of the transcripts and rejects a bare id', () => {
    for (const text of rpcPayloads('agent_rpc_error')) expect(RpcObjectSchema.safeParse(JSON.parse(text)).success).toBe(true);
    expect(RpcObjectSchema.safeParse({ jsonrpc: '2.0', id: 1 }).success).toBe(false);
  });
});
