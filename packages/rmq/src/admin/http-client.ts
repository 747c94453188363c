import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** An HTTP answer: status and body text. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

/** Bodies above this are refused (a management answer this large is not one we asked for). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

interface Pending {
  readonly head: string;
  readonly body: Buffer | undefined;
  readonly resolve: (a: HttpAnswer) => void;
  readonly reject: (err: Error) => void;
  /** Already tried once on a reused connection that the server had closed. */
  retried: boolean;
}

/**
 * A minimal HTTP/1.1 client for the management API: one kept-alive connection, one request at a
 * time (FIFO), `content-length` and chunked answers. Why not node:http: subscriber counts read
 * the bindings hundreds of times a second under publish load, and node:http costs ~4x the CPU
 * per request of this (fetch ~15x). A request that finds its reused connection closed by the
 * server (keep-alive limit, idle timeout) before any answer is sent again once on a new one
 * (management requests are idempotent: GET, PUT, DELETE). The idle connection is unref'd.
 */
export class HttpClient {
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #queue: Pending[] = [];
  #socket: Socket | undefined;
  #reused = false;
  #buf: Buffer = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;

  constructor(baseUrl: string, timeoutMs: number) {
    this.#url = new URL(baseUrl);
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${baseUrl}`);
    this.#timeoutMs = timeoutMs;
  }

  request(method: string, path: string, headers: Readonly<Record<string, string>>, body?: string): Promise<HttpAnswer> {
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${this.#url.host}`];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (payload) lines.push(`content-length: ${payload.length}`);
    return new Promise((resolve, reject) => {
      this.#queue.push({ head: `${lines.join('\r\n')}\r\n\r\n`, body: payload, resolve, reject, retried: false });
      if (this.#queue.length === 1) this.#send();
    });
  }

  /** Close the kept-alive connection (requests after this open a new one). */
  close(): void {
    this.#drop(this.#socket);
  }

  #send(): void {
    const p = this.#queue[0];
    if (!p) {
      this.#socket?.unref(); // an idle kept-alive connection does not hold the process open
      return;
    }
    const socket = this.#socket ?? this.#open();
    socket.ref();
    socket.write(p.head, 'latin1');
    if (p.body) socket.write(p.body);
    this.#timer = setTimeout(() => this.#fail(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
  }

  #open(): Socket {
    const port = Number(this.#url.port) || (this.#url.protocol === 'https:' ? 443 : 80);
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    const socket = this.#url.protocol === 'https:' ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#reused = false;
    this.#buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', (err) => this.#onGone(socket, err));
    socket.on('close', () => this.#onGone(socket, new Error('connection closed by the server')));
    return socket;
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return;
    if (this.#queue.length === 0) {
      // nothing asked: a server's idle-timeout notice (408) or garbage; the stream can't be trusted
      this.#drop(socket);
      return;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let answer: ParsedAnswer | undefined | Error;
    while (this.#queue.length > 0 && (answer = parseAnswer(this.#buf)) !== undefined) {
      if (answer instanceof Error) return this.#fail(answer);
      this.#buf = this.#buf.subarray(answer.length);
      clearTimeout(this.#timer);
      const p = this.#queue.shift() as Pending;
      p.resolve({ status: answer.status, text: answer.body.toString('utf8') });
      if (answer.close) this.#drop(socket);
      else this.#reused = true;
      this.#send();
      if (answer.close) return;
    }
  }

  #onGone(socket: Socket, err: Error): void {
    if (socket !== this.#socket) return;
    const p = this.#queue[0];
    // a kept-alive connection closed under a request the server had not started answering: once more, fresh
    if (p && this.#reused && !p.retried && this.#buf.length === 0) {
      p.retried = true;
      clearTimeout(this.#timer);
      this.#drop(socket);
      this.#send();
      return;
    }
    this.#fail(err);
  }

  /** The request in progress fails; the connection is dropped; the next request goes out on a new one. */
  #fail(err: Error): void {
    clearTimeout(this.#timer);
    this.#drop(this.#socket);
    this.#queue.shift()?.reject(err);
    this.#send();
  }

  #drop(socket: Socket | undefined): void {
    if (!socket) return;
    if (socket === this.#socket) this.#socket = undefined;
    socket.destroy();
  }
}

interface ParsedAnswer {
  readonly status: number;
  readonly body: Buffer;
  /** The server closes the connection after it. */
  readonly close: boolean;
  /** Bytes of the buffer it took. */
  readonly length: number;
}

/** The first complete answer in `buf`, undefined while incomplete, Error when malformed. */
function parseAnswer(buf: Buffer): ParsedAnswer | undefined | Error {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return buf.length > 64 * 1024 ? new Error('HTTP answer head over 64 KiB') : undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!status) return new Error(`not an HTTP answer: ${JSON.stringify((head[0] ?? '').slice(0, 80))}`);
  const fields = new Map<string, string>();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const code = Number(status[1]);
  const close = /\bclose\b/i.test(fields.get('connection') ?? '');
  const start = end + HEAD_END.length;
  if (code === 204 || code === 304 || (code >= 100 && code < 200)) return { status: code, body: Buffer.alloc(0), close, length: start };
  if (/\bchunked\b/i.test(fields.get('transfer-encoding') ?? '')) return parseChunked(buf, start, code, close);
  const length = fields.get('content-length');
  if (length === undefined) return new Error('HTTP answer without content-length or chunked body');
  const n = Number(length);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BODY_BYTES)
    return new Error(`HTTP answer content-length ${JSON.stringify(length)} refused`);
  if (buf.length < start + n) return undefined;
  return { status: code, body: buf.subarray(start, start + n), close, length: start + n };
}

function parseChunked(buf: Buffer, from: number, status: number, close: boolean): ParsedAnswer | undefined | Error {
  const parts: Buffer[] = [];
  let at = from;
  let total = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isSafeInteger(size) || size < 0) return new Error('malformed chunk size in HTTP answer');
    total += size;
    if (total > MAX_BODY_BYTES) return new Error('HTTP answer body over 64 MiB refused');
    if (size === 0) {
      // the last chunk, then trailer fields (none, usually) and an empty line
      const end = buf.indexOf(HEAD_END, eol);
      return end < 0 ? undefined : { status, body: Buffer.concat(parts), close, length: end + HEAD_END.length };
    }
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
