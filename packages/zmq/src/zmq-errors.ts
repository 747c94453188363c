import { TransportError } from '@vip/protocol';

/** The errno code (`EAGAIN`, `EHOSTUNREACH`...) zeromq.js puts on its errors, if any. */
export function zmqErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const BIND_CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  ENOENT: 'no such file or directory (does the ipc directory exist?)',
  ENODEV: 'no such network interface',
  EINVAL: 'invalid address',
  EPROTONOSUPPORT: 'unsupported transport (use tcp://, ipc:// or inproc://)',
  ENOCOMPATPROTO: 'transport not compatible with this socket type',
};

/** A failed bind as a TransportError naming the address and a cause a person can act on. */
export function bindError(address: string, err: unknown): TransportError {
  const code = zmqErrorCode(err);
  const human = (code !== undefined ? BIND_CAUSES[code] : undefined) ?? (err instanceof Error ? err.message : String(err));
  return new TransportError(`cannot bind ${address}: ${human}`, { cause: err });
}
