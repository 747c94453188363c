/** Where vipctl writes: stdout for results, stderr for errors (injected for tests). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  /** The terminal's width, for help text (undefined: not a terminal). */
  readonly columns?: number;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  env: process.env,
  get columns() {
    return process.stdout.isTTY ? process.stdout.columns : undefined;
  },
};

/** A result: JSON with --json, else the human text. */
export function emit(io: CliIo, json: boolean, value: unknown, human: () => string): void {
  io.out(json ? JSON.stringify(value) : human());
}

/** Two aligned columns. */
export function table(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** A CliIo that keeps what was written (tests, embedding vipctl): one line per write. */
export function bufferIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout(): string; stderr(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    env,
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    stdout: () => out.map((t) => `${t}\n`).join(''),
    stderr: () => err.map((t) => `${t}\n`).join(''),
  };
}
