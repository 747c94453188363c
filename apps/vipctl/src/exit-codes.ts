import { EXIT_CODES, type ExitCode } from '@vip/protocol';

/** vipctl's exit codes: the scheme vip-platform shares (@vip/protocol EXIT_CODES; README "Exit codes", `vipctl --help`). */
export const EXIT = EXIT_CODES;

/** A failure with the exit code it maps to. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.ERROR, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
