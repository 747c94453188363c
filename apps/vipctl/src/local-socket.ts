import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';

/** How long the probe of a socket file waits for the kernel's answer (a local socket answers at once). */
const PROBE_MS = 500;
/** /proc/net/unix flags of a listening socket (__SO_ACCEPTCON). */
const LISTENING = 0x10000;

/**
 * Whether anything listens on a local ipc address, asked of the kernel without a VIP handshake
 * (which would only time out when nothing is there). `ipc://@name` (Linux abstract namespace):
 * a listening socket of that exact name in /proc/net/unix; node's own connect cannot test it
 * (it pads abstract names to the full 108 bytes, libzmq does not). `ipc:///path`: a connect to
 * the socket file, closed before it sends a byte (libzmq sees a connection that goes away before
 * its greeting: no ZAP request, no peer). `undefined`: not an ipc address, or no clear answer.
 */
export async function ipcListening(address: string, procNetUnix = '/proc/net/unix'): Promise<boolean | undefined> {
  const m = /^ipc:\/\/(@?)([^?]+)/.exec(address);
  if (!m) return undefined;
  return m[1] === '@' ? abstractListening(m[2]!, procNetUnix) : socketFileListening(m[2]!);
}

async function abstractListening(name: string, procNetUnix: string): Promise<boolean | undefined> {
  let table: string;
  try {
    table = await readFile(procNetUnix, 'utf8');
  } catch {
    return undefined; // not Linux, or no /proc: let the handshake decide
  }
  // "Num RefCount Protocol Flags Type St Inode Path"; an abstract name is shown with a leading @
  return table.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields.length >= 8 && fields.slice(7).join(' ') === `@${name}` && (Number.parseInt(fields[3]!, 16) & LISTENING) !== 0;
  });
}

function socketFileListening(path: string): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (answer: boolean | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), PROBE_MS);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : undefined));
  });
}
