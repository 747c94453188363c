import { EMPTY_FRAME, identityKey, textFrame, type Frame, type RoutedMessage } from '@vip/protocol';

/** What the built-in subsystem handlers need from the router. */
export interface BuiltinContext {
  /** The router's own socket identity (third `welcome` argument). */
  readonly identity: Frame;
  /** Every known peer identity. */
  peerList(): Frame[];
  /** Send a router-originated reply to the sender of `message`, keeping its id. */
  reply(message: RoutedMessage, user: Frame, subsystem: Frame, args: readonly Frame[]): void;
  /** Bump a named always-on counter. */
  count(name: string): void;
}

const WELCOME = textFrame('welcome');
const VERSION = textFrame('1.0');
const PONG = textFrame('pong');
const LISTING = textFrame('listing');
const ERROR = textFrame('error');
const MISSING_OP = textFrame('missing operation');
const UNKNOWN_OP = textFrame('unknown operation');

/** hello -> `welcome, 1.0, <router identity>, <sender>`, user = the sender's user (docs/protocol.md 2.1). */
function hello(ctx: BuiltinContext, m: RoutedMessage, user: Frame): void {
  ctx.reply(m, user, m.subsystem, [WELCOME, VERSION, ctx.identity, m.sender]);
}

/**
 * ping -> `pong` followed by every argument after the first, unchanged (docs/protocol.md 2.2). A
 * `pong` is a peer answering the router's own ping (the ZeroMQ transport's liveness probes):
 * counted and ignored, never answered (VOLTTRON answers it with another pong).
 */
function ping(ctx: BuiltinContext, m: RoutedMessage, user: Frame): void {
  const op = m.args[0];
  if (op !== undefined && op.equals(PONG)) {
    ctx.count('ping pong ignored');
    return;
  }
  ctx.reply(m, user, m.subsystem, [PONG, ...m.args.slice(1)]);
}

/** peerlist list -> `listing, peers...`; missing/unknown op -> `error, <why>`; empty user (docs/protocol.md 2.3). */
function peerlist(ctx: BuiltinContext, m: RoutedMessage): void {
  const op = m.args[0];
  if (op === undefined) {
    ctx.reply(m, EMPTY_FRAME, m.subsystem, [ERROR, MISSING_OP]);
  } else if (identityKey(op) === 'list') {
    ctx.reply(m, EMPTY_FRAME, m.subsystem, [LISTING, ...ctx.peerList()]);
  } else {
    ctx.reply(m, EMPTY_FRAME, m.subsystem, [ERROR, UNKNOWN_OP]);
  }
}

type Handler = (ctx: BuiltinContext, message: RoutedMessage, user: Frame) => void;

/** The subsystems every router serves itself, keyed by subsystem name. `error` is swallowed by the caller. */
export const BUILTIN_SUBSYSTEMS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['hello', hello],
  ['ping', ping],
  ['peerlist', peerlist],
]);
