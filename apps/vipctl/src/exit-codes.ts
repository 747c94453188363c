/** vipctl exit codes (documented in README.md and `vipctl --help`). */
export const EXIT = {
  OK: 0,
  /** The command failed (remote error, file error...). */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The platform is not running, not reachable, or refused our key. */
  UNREACHABLE: 3,
  /** The platform answered too slowly (--timeout). */
  TIMEOUT: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the exit code it maps to. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.ERROR, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
