import {
  AgainError,
  ERRNO,
  ERRNO_MESSAGES,
  InvalidPayloadError,
  PeerUnreachableError,
  UnknownSubsystemError,
  WireError,
} from './errors.js';
import type { Frame } from './frames.js';
import { UNAUTHORIZED_ERRNUM, UnauthorizedError } from './unauthorized-error.js';

/**
 * The one mapping between error classes and the args of a VIP `error` message (docs/protocol.md 1.8, 3.7):
 *
 * | errnum  | args                                                         | class                  |
 * |---------|--------------------------------------------------------------|------------------------|
 * | 113     | `'113', 'No route to host', <recipient>, <subsystem>`        | PeerUnreachableError   |
 * | 11      | `'11', 'Resource temporarily unavailable', <recipient>, <subsystem>` | AgainError     |
 * | 93      | `'93', 'Protocol not supported', '', <subsystem>` (router)   | UnknownSubsystemError  |
 * | 93      | `'93', 'Protocol not supported', <subsystem>` (3-arg, agents)| UnknownSubsystemError  |
 * | -32001  | `'-32001', <why>, '', 'pubsub'`                              | UnauthorizedError      |
 * | other   | `'<n>', <message>, <peer>, <subsystem>`                      | WireError              |
 */

/** `os.strerror` text for the errnos VIP uses; `Unknown error <n>` otherwise, as Python prints it. */
export function errnoMessage(errnum: number): string {
  return ERRNO_MESSAGES[errnum] ?? `Unknown error ${errnum}`;
}

/** Args of a router-generated `error` message: errnum as decimal text, the strerror text, the recipient and the subsystem. */
export function errorArgs(
  errnum: number,
  recipient: Frame | string,
  subsystem: Frame | string,
  message: string = errnoMessage(errnum),
): Frame[] {
  return [Buffer.from(String(errnum), 'latin1'), Buffer.from(message, 'utf8'), toFrame(recipient), toFrame(subsystem)];
}

/** Args for an error object: the inverse of `errorFromArgs` for the classes above. */
export function errorArgsFor(err: WireError): Frame[] {
  return errorArgs(
    err.errnum,
    err.peer,
    err.subsystem,
    err instanceof UnauthorizedError || !(err.errnum in ERRNO_MESSAGES) ? err.message : errnoMessage(err.errnum),
  );
}

/**
 * The typed error for a VIP `error` message's args: the router's 4-arg form, an agent's 3-arg
 * unknown-subsystem form (`sender` becomes the peer), or the -32001 pubsub form. The errnum is decimal
 * text, or a 4-byte little-endian integer (what a Python router makes of an agent's `'93'` it forwards).
 * Fewer than 3 args or an unreadable errnum yields InvalidPayloadError (Python only logs those).
 */
export function errorFromArgs(args: readonly Frame[], sender: Frame | string = ''): WireError | InvalidPayloadError {
  if (args.length < 3)
    return new InvalidPayloadError('VIP error message', `expected 3 or 4 args (errnum, message, [peer,] subsystem), got ${args.length}`);
  const errnum = readErrnum(args[0] as Frame);
  if (errnum === undefined)
    return new InvalidPayloadError(
      'VIP error message',
      `errnum ${JSON.stringify((args[0] as Frame).toString('latin1'))} is not an integer`,
    );
  const message = (args[1] as Frame).toString('utf8');
  const threeArgs = args.length === 3;
  const peer = threeArgs ? text(sender) : (args[2] as Frame).toString('utf8');
  const subsystem = (args[threeArgs ? 2 : 3] as Frame).toString('utf8');
  switch (errnum) {
    case ERRNO.EHOSTUNREACH:
      return new PeerUnreachableError(peer, subsystem);
    case ERRNO.EAGAIN:
      return new AgainError(peer, subsystem);
    case ERRNO.EPROTONOSUPPORT:
      return new UnknownSubsystemError(subsystem, peer);
    case UNAUTHORIZED_ERRNUM:
      return new UnauthorizedError(message, { peer, subsystem });
    default:
      return new WireError(errnum, message, peer, subsystem);
  }
}

function readErrnum(frame: Frame): number | undefined {
  const t = frame.toString('latin1');
  if (/^-?\d{1,10}$/.test(t)) return Number(t);
  if (frame.length === 4) return frame.readUInt32LE(0);
  return undefined;
}

function toFrame(v: Frame | string): Frame {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function text(v: Frame | string): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}
