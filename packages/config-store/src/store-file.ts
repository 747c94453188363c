import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { StoreFileError } from './errors.js';

/**
 * One stored configuration as VOLTTRON writes it: the type, when it last changed (ISO 8601 with
 * microseconds and `+00:00`; absent in stores older than that field) and the raw text.
 */
export const StoredConfigSchema = z
  .object({
    type: z.string(),
    modified: z.string().nullable().optional(),
    data: z.string(),
  })
  .loose();
export type StoredConfig = z.infer<typeof StoredConfigSchema>;

/** A `<identity>.store` file: one JSON object, config name -> StoredConfig. */
export const StoreFileSchema = z.record(z.string(), StoredConfigSchema);

/**
 * Read a store file. Throws StoreFileError naming the file when it cannot be read, is not JSON
 * (e.g. truncated mid-write by another program) or does not hold a store; a missing file is an
 * empty store. Key order is the file's.
 */
export async function readStoreFile(path: string): Promise<Map<string, StoredConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new StoreFileError(path, `cannot be read (${(err as Error).message})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreFileError(path, `is not valid JSON (${(err as Error).message}); it was left as it is: restore it or move it away`, {
      cause: err,
    });
  }
  const r = StoreFileSchema.safeParse(json);
  if (!r.success)
    throw new StoreFileError(
      path,
      `does not hold a configuration store (${r.error.issues[0]?.message ?? 'invalid'}); it was left as it is`,
    );
  return new Map(Object.entries(r.data));
}

/**
 * The text VOLTTRON's PersistentDict writes: compact JSON (`,` and `:` separators) with every
 * character outside printable ASCII escaped as `\uXXXX` (Python's `ensure_ascii`).
 */
export function storeFileText(configs: ReadonlyMap<string, StoredConfig>): string {
  return JSON.stringify(Object.fromEntries(configs)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Hooks for tests: fail a write at a given step. */
export interface WriteHooks {
  /** Called after the temporary file is written and synced, before the rename. */
  readonly beforeRename?: (tmpPath: string) => Promise<void> | void;
}

let tmpCounter = 0;

/**
 * Replace a store file atomically: the JSON text (as VOLTTRON's `json.dumps` writes it) goes to a
 * temporary file in the same directory, is fsynced, renamed over the file, and the directory is
 * fsynced; a crash at any point leaves the old file or the new one, never a part. An empty store
 * removes the file (as VOLTTRON's PersistentDict does). On failure the temporary file is removed
 * and the old file is untouched.
 */
export async function writeStoreFile(path: string, configs: ReadonlyMap<string, StoredConfig>, hooks: WriteHooks = {}): Promise<void> {
  if (configs.size === 0) {
    await rm(path, { force: true });
    await syncDirectory(dirname(path));
    return;
  }
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(storeFileText(configs), 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await hooks.beforeRename?.(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new StoreFileError(path, `could not be written (${(err as Error).message}); the previous contents are kept`, { cause: err });
  }
  await syncDirectory(dirname(path));
}

/** fsync a directory so a rename in it survives a crash; ignored where the system refuses it. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  }
}
