import { AgainError, PeerUnreachableError, UnknownSubsystemError, WireError, frameText, type Frame } from '@vip/protocol';

/**
 * The typed error for a VIP `error` message's args: `[errnum, message, peer, subsystem]`
 * (routers, PROTOCOL.md 1.8) or VOLTTRON agents' 3-arg form `[errnum, message, subsystem]`.
 */
export function errorFromArgs(args: readonly Frame[]): WireError {
  const errnum = Number.parseInt(frameText(args[0] ?? Buffer.alloc(0)), 10);
  const message = frameText(args[1] ?? Buffer.alloc(0));
  const threeArgs = args.length === 3;
  const peer = threeArgs ? '' : frameText(args[2] ?? Buffer.alloc(0));
  const subsystem = frameText((threeArgs ? args[2] : args[3]) ?? Buffer.alloc(0));
  if (errnum === 113) return new PeerUnreachableError(peer, subsystem);
  if (errnum === 11) return new AgainError(peer, subsystem);
  if (errnum === 93) return new UnknownSubsystemError(subsystem, peer);
  return new WireError(Number.isNaN(errnum) ? -1 : errnum, message, peer, subsystem);
}
