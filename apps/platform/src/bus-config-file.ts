import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfigFile, PLATFORM_CONFIG_KEYS, type ParsedConfigFile, type PlatformConfigKey } from '@vip/protocol';

/** Keys the platform reads from `$VIP_HOME/config` (the CLI option names, without `--`; shared with vipctl through @vip/protocol). */
export const CONFIG_FILE_KEYS = PLATFORM_CONFIG_KEYS;
export type ConfigFileKey = PlatformConfigKey;

export function configFilePath(vipHome: string): string {
  return join(vipHome, 'config');
}

/** The config file of a home (VOLTTRON's INI, @vip/protocol parseConfigFile), or nothing when there is none. */
export function readConfigFile(vipHome: string): ParsedConfigFile {
  const path = configFilePath(vipHome);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { values: {}, unknown: [] };
    throw new ConfigError(`cannot read ${path} (${code ?? 'error'}): check its permissions`, { cause: err });
  }
  return parseConfigFile(text, path);
}
