import { KNOWN_QUERY_PROPERTIES } from './commands/platform-commands.js';

/** Values the shell completion offers for an argument, by `<command path> <argument>` (not commander choices: other values stay allowed). */
export const ARGUMENT_VALUES: Readonly<Record<string, readonly string[]>> = {
  'query <property>': KNOWN_QUERY_PROPERTIES,
};

/** Options naming a file or directory: the completion offers paths after them. */
export const PATH_OPTIONS: ReadonlySet<string> = new Set(['--vip-home', '--rmq-ca', '--rmq-cert', '--rmq-key']);
