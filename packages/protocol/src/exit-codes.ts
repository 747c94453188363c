/**
 * The exit codes of vip's commands, one scheme for `vip-platform` and `vipctl` (README, "Exit
 * codes"). Both import it from here, so a bad flag means the same number everywhere.
 */
export const EXIT_CODES = {
  /** Done (vip-platform: stopped cleanly). */
  OK: 0,
  /** The command failed: a remote error, a file problem, a platform that could not start. */
  ERROR: 1,
  /** Bad command line or configuration: an unknown or misspelled flag, a bad value, a bad config file setting. */
  USAGE: 2,
  /** The platform is not running, not reachable, or refused our key (vipctl). */
  UNREACHABLE: 3,
  /** The platform answered too slowly (vipctl --timeout). */
  TIMEOUT: 4,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** One line for `--help` texts: the scheme as people read it. */
export const EXIT_CODES_TEXT =
  'Exit codes: 0 ok, 1 error, 2 usage (bad flag, value or config setting), 3 platform unreachable or key refused, 4 timeout';
