import { closeSync, openSync, writeSync } from 'node:fs';
import { createLogger, type LogFormat, type Logger } from '@vip/protocol';
import type { PlatformConfig } from './cli-options.js';

/** Where the platform's log goes and how it reads (the choice made from --log-format, --log-file and the terminal). */
export interface LogOutput {
  readonly logger: Logger;
  readonly format: LogFormat;
  /** Closes the log file (nothing for stderr). */
  close(): void;
}

/** Could not open --log-file: one line, exit 1. */
export class LogFileError extends Error {
  readonly code = 'VIP_CONFIG';
  constructor(path: string, cause: unknown) {
    super(
      `cannot open --log-file ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): check the directory exists and is writable`,
      { cause },
    );
    this.name = 'LogFileError';
  }
}

/**
 * The platform's logger. JSON lines stay the default for services (stderr a pipe or a file,
 * journald, log shippers); a person at a terminal gets the pretty format unless `--log-format`
 * says otherwise. `--log-file PATH` appends there instead (created 0600; json unless
 * `--log-format pretty`, never coloured), written synchronously so nothing is lost when the
 * process exits right after a record; a failing write is reported once on stderr and dropped,
 * never thrown into the code that logged.
 */
export function createPlatformLog(
  config: Pick<PlatformConfig, 'logLevel' | 'logFormat' | 'logFile'>,
  stderr: { isTTY?: boolean; write(text: string): unknown } = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): LogOutput {
  const bindings = { service: 'vip-platform' };
  const path = config.logFile;
  if (path === undefined) {
    const format = config.logFormat ?? (stderr.isTTY ? 'pretty' : 'json');
    const colour = format === 'pretty' && stderr.isTTY === true && env.NO_COLOR === undefined;
    const logger = createLogger({ level: config.logLevel, format, colour, bindings, write: (line) => void stderr.write(`${line}\n`) });
    return { logger, format, close: () => undefined };
  }
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (err) {
    throw new LogFileError(path, err);
  }
  let failed = false;
  const write = (line: string) => {
    try {
      writeSync(fd, `${line}\n`);
    } catch (err) {
      if (!failed)
        stderr.write(
          `vip-platform: writing the log to ${path} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); further records are dropped\n`,
        );
      failed = true;
    }
  };
  const format = config.logFormat ?? 'json';
  return { logger: createLogger({ level: config.logLevel, format, bindings, write }), format, close: () => closeSync(fd) };
}
