import { join } from 'node:path';
import type { PlatformConfig } from './cli-options.js';
import type { ReadyInfo } from './start-platform.js';

/**
 * The one human line on stderr once the platform is ready (the JSON ready line on stdout is for
 * programs): where it listens, its server key, its home, and how an agent gets in.
 */
export function readyNote(config: PlatformConfig, ready: ReadyInfo): string {
  const home = config.vipHome;
  const remote = ready.addresses.filter((a) => !a.startsWith('ipc:') && !a.startsWith('inproc:'));
  const where = (remote.length > 0 ? remote : ready.addresses).join(' ');
  const key = ready.serverkey ? `server key ${ready.serverkey}` : 'no server key (CURVE off)';
  const head = `vip-platform ready: ${where} (${config.messageBus}, instance ${ready.instance}), ${key}, home ${home}.`;
  if (config.messageBus === 'rmq') {
    return `${head} Add an agent: vipctl auth add --identity NAME (its broker user; the agent connects with connectRmqAgent({ identity: 'NAME' }), which reads ${join(home, 'keystores', 'NAME', 'rmq.json')}).`;
  }
  if (!ready.serverkey) return `${head} Any agent may connect (--allow-auth false).`;
  return `${head} Add an agent: vipctl auth add --identity NAME (keys in ${join(home, 'keystores', 'NAME')}), or its public key in ${join(home, 'auth.json')} (reloaded live).`;
}
