import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` one level at a time, each new directory with `mode`. Node's own
 * `mkdir({ recursive: true })` never returns for some paths (seen: `/proc/1/x` spins at full CPU
 * forever), so a bad home directory from a flag would hang a process instead of failing with an
 * error it can report.
 */
export async function makeDirectories(path: string, mode = 0o700): Promise<void> {
  const missing: string[] = [];
  let at = resolve(path);
  while (!(await exists(at))) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const dir of missing) {
    await mkdir(dir, { mode }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
