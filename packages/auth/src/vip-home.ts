import { access, chmod, constants, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '@vip/protocol';
import { makeDirectories } from './make-directories.js';

/**
 * The platform home every vip program uses (the platform, vipctl, agents): `$VIP_HOME`, else
 * `$VOLTTRON_HOME` (an empty variable counts as unset), else `~/.vip`; a leading `~` is expanded
 * and the path made absolute, without a trailing `/`.
 */
export function resolveVipHome(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const raw = env.VIP_HOME || env.VOLTTRON_HOME || '~/.vip';
  return resolve(raw.replace(/^~(?=$|\/)/, home));
}

/** The platform's local address: `ipc://@$VIP_HOME/run/vip.socket` (docs/protocol.md 9). */
export function defaultLocalAddress(vipHome: string): string {
  return `ipc://@${join(vipHome, 'run', 'vip.socket')}`;
}

/** The files of a platform home (docs/protocol.md 5.3, 9). */
export interface VipHomePaths {
  readonly home: string;
  readonly run: string;
  readonly keystore: string;
  readonly keystores: string;
  readonly knownHosts: string;
  readonly authFile: string;
  readonly protectedTopics: string;
}

export function vipHomePaths(home: string): VipHomePaths {
  return {
    home,
    run: join(home, 'run'),
    keystore: join(home, 'keystore'),
    keystores: join(home, 'keystores'),
    knownHosts: join(home, 'known_hosts'),
    authFile: join(home, 'auth.json'),
    protectedTopics: join(home, 'protected_topics.json'),
  };
}

/**
 * Create the home (mode 0700) and its `run/` directory when missing, and check that it can be
 * read and written. Throws ConfigError naming the path.
 */
export async function prepareVipHome(home: string): Promise<VipHomePaths> {
  const paths = vipHomePaths(home);
  try {
    const existed = await stat(home).then(
      (s) => {
        if (!s.isDirectory()) throw new ConfigError(`VIP home ${home} exists and is not a directory`);
        return true;
      },
      () => false,
    );
    if (!existed) {
      await makeDirectories(home, 0o700);
      await chmod(home, 0o700);
    }
    await access(home, constants.R_OK | constants.W_OK | constants.X_OK);
    await makeDirectories(paths.run, 0o700);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`VIP home ${home} is not usable (${code}): check that it exists and that this user may read and write it`, {
      cause: err,
    });
  }
  return paths;
}
