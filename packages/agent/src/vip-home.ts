// Where an agent finds its platform's files: shared by @vip/agent/zmq and @vip/agent/rmq (neither
// may import the other: each entry pulls in its own transport library only).
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$VIP_HOME`, honouring `$VOLTTRON_HOME`, default `~/.vip` (ARCHITECTURE.md). */
export function resolveVipHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.VIP_HOME ?? env.VOLTTRON_HOME ?? join(homedir(), '.vip');
  return home.length > 1 ? home.replace(/\/+$/, '') : home;
}

/** The platform's local address: `ipc://@$VIP_HOME/run/vip.socket` (docs/protocol.md 9). */
export function defaultLocalAddress(vipHome: string): string {
  return `ipc://@${join(vipHome, 'run', 'vip.socket')}`;
}
