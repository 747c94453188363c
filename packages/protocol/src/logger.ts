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

/** JSON lines logger (one object per line) for apps; `write` defaults to stderr. */
export function createJsonLogger(options: {
  level?: LogLevel;
  bindings?: LogFields;
  write?: (line: string) => void;
  now?: () => Date;
} = {}): Logger {
  const level = LEVEL_ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  const bindings = options.bindings ?? {};
  const emit = (lvl: Exclude<LogLevel, 'silent'>): LogFn => (event, fields, err) => {
    if (LEVEL_ORDER[lvl] < level) return;
    const record: Record<string, unknown> = { time: now().toISOString(), level: lvl, event, ...bindings, ...fields };
    if (err !== undefined) {
      record.error = err instanceof Error ? err.message : String(err);
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code === 'string' || typeof code === 'number') record.errorCode = code;
    }
    write(JSON.stringify(record));
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => createJsonLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}
