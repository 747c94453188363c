// vipctl through its public entry, the built CLI (apps/vipctl/dist/main.js): `npm run build` first.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const VIPCTL = fileURLToPath(new URL('../../../apps/vipctl/dist/main.js', import.meta.url));

export interface VipctlRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Run vipctl with `argv` and an environment of PATH alone (no VIP_HOME of the caller's). */
export function runVipctl(argv: readonly string[]): Promise<VipctlRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [VIPCTL, ...argv],
      { env: { PATH: process.env.PATH ?? '' }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? error.code : 0;
        if (typeof code !== 'number') reject(error ?? new Error('vipctl did not exit'));
        else resolve({ code, out: stdout, err: stderr });
      },
    );
  });
}
