import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeUnknownConfigKey, parseConfigFile, type PlatformConfigKey } from '@vip/protocol';
import { CliError, EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';

/** What vipctl takes from `$VIP_HOME/config` (the platform's settings; flags and the running platform's record win). */
export type HomeConfig = Partial<Record<PlatformConfigKey, string>>;

/**
 * `$VIP_HOME/config` as vip-platform reads it (@vip/protocol parseConfigFile, one key list for
 * both): vipctl uses the bus, local address, instance, vhost and broker settings from it, and
 * warns about the keys neither knows (a typo there is otherwise silently ignored by both), one
 * line each on stderr (JSON with --json). No file: nothing.
 */
export async function readHomeConfig(vipHome: string, io: CliIo, json: boolean): Promise<HomeConfig> {
  const path = join(vipHome, 'config');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new CliError(`cannot read ${path} (${code ?? 'error'})`, EXIT.ERROR, { cause: err });
  }
  let parsed;
  try {
    parsed = parseConfigFile(text, path);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.USAGE, { cause: err });
  }
  for (const u of parsed.unknown) {
    const line = describeUnknownConfigKey(path, u);
    io.err(json ? JSON.stringify({ warning: line }) : `vipctl: warning: ${line}`);
  }
  return parsed.values;
}
