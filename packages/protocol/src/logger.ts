/** Structured, injected logging. Packages default to `silentLogger`; apps own the real one. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;
export type LogFn = (event: string, fields?: LogFields, err?: unknown) => void;
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: LogFields): Logger;
}

const noop: LogFn = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** `json`: one JSON object per line (services, log shippers); `pretty`: one readable line per record (people). */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS = ['json', 'pretty'] as const;

export interface LoggerOptions {
  level?: LogLevel;
  bindings?: LogFields;
  /** Where each line goes (without its newline); default stderr. */
  write?: (line: string) => void;
  now?: () => Date;
}

type Emitted = Exclude<LogLevel, 'silent'>;
interface LogRecord {
  readonly time: Date;
  readonly level: Emitted;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A logger that formats each record with `format` (shared by the JSON and the pretty logger). */
function createFormattingLogger(options: LoggerOptions, format: (r: LogRecord) => string): Logger {
  const level = LEVEL_ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  const bindings = options.bindings ?? {};
  const emit =
    (lvl: Emitted): LogFn =>
    (event, fields, err) => {
      if (LEVEL_ORDER[lvl] < level) return;
      const all: Record<string, unknown> = { ...bindings, ...fields };
      if (err !== undefined) {
        all.error = err instanceof Error ? err.message : String(err);
        const code = (err as { code?: unknown } | null)?.code;
        if (typeof code === 'string' || typeof code === 'number') all.errorCode = code;
      }
      write(format({ time: now(), level: lvl, event, fields: all }));
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => createFormattingLogger({ ...options, bindings: { ...bindings, ...more } }, format),
  };
}

/** JSON lines logger (one object per line: time, level, event, then the fields) for apps; `write` defaults to stderr. */
export function createJsonLogger(options: LoggerOptions = {}): Logger {
  return createFormattingLogger(options, (r) =>
    JSON.stringify({ time: r.time.toISOString(), level: r.level, event: r.event, ...r.fields }),
  );
}

const COLOURS: Record<Emitted, string> = { debug: '\u001b[90m', info: '\u001b[32m', warn: '\u001b[33m', error: '\u001b[31m' };
const RESET = '\u001b[0m';
const DIM = '\u001b[2m';

/**
 * A logger for people: `2025-05-01 14:03:07.123 INFO  platform.ready bus=zmq addresses="a b"`,
 * local time, the event, then `key=value` (values with spaces, quotes or `=` JSON-quoted);
 * `colour` adds ANSI colours (for a terminal). Same records and levels as createJsonLogger.
 */
export function createPrettyLogger(options: LoggerOptions & { colour?: boolean } = {}): Logger {
  const colour = options.colour ?? false;
  return createFormattingLogger(options, (r) => {
    const level = r.level.toUpperCase().padEnd(5);
    const fields = Object.entries(r.fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${prettyValue(v)}`)
      .join(' ');
    const time = localTime(r.time);
    if (!colour) return `${time} ${level} ${r.event}${fields ? ` ${fields}` : ''}`;
    return `${DIM}${time}${RESET} ${COLOURS[r.level]}${level}${RESET} ${r.event}${fields ? ` ${DIM}${fields}${RESET}` : ''}`;
  });
}

/** The logger for `format`: createJsonLogger or createPrettyLogger. */
export function createLogger(options: LoggerOptions & { format?: LogFormat; colour?: boolean } = {}): Logger {
  const { format, ...rest } = options;
  return format === 'pretty' ? createPrettyLogger(rest) : createJsonLogger(rest);
}

function prettyValue(v: unknown): string {
  const text = typeof v === 'string' ? v : String(v);
  return typeof v === 'string' && (text === '' || /[\s"=\\]|\p{Cc}/u.test(text)) ? JSON.stringify(text) : text;
}

function localTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
