import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '@vip/protocol';
import { makeDirectories } from './make-directories.js';
import type { z } from 'zod';

/**
 * Small file helpers shared by auth.json, auth_pending.json, keystore and known_hosts:
 * zod-validated JSON reads with the path in every message, and atomic writes (temp file in the
 * same directory, fsync, rename) so a reader never sees half a file.
 */

/** `path: field.sub: message; ...` from a zod error. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Removes `#`, `//` and `/* *\/` comments outside JSON strings, as VOLTTRON's `strip_comments`
 * does before it parses auth.json (operators annotate the file by hand).
 */
export function stripJsonComments(text: string): string {
  return text.replace(/("(?:\\.|[^"\\])*")|(\/\*[\s\S]*?\*\/)|((?:#|\/\/)[^\n]*)/g, (_m, str: string | undefined) => str ?? '');
}

export interface ReadJsonOptions {
  /** What the file is, for messages ("auth file", "keystore"). */
  readonly what: string;
  /** Strip `#` and `//` comments first (auth.json). */
  readonly comments?: boolean;
}

/**
 * Reads and validates a JSON file. Returns `undefined` when the file does not exist; throws
 * ConfigError (with the path and the reason) when it cannot be read, parsed or validated.
 */
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  options: ReadJsonOptions,
): Promise<z.output<S> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${options.what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseJsonText(path, text, schema, options);
}

export function parseJsonText<S extends z.ZodType>(path: string, text: string, schema: S, options: ReadJsonOptions): z.output<S> {
  const body = options.comments ? stripJsonComments(text) : text;
  let raw: unknown;
  if (body.trim() === '') {
    raw = {};
  } else {
    try {
      raw = JSON.parse(body);
    } catch (err) {
      throw new ConfigError(`${options.what} ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${options.what} ${path} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export interface WriteFileOptions {
  /** File mode, e.g. 0o600. */
  readonly mode: number;
  /** Mode of the parent directory when it has to be created (default 0o700). */
  readonly dirMode?: number;
}

/** Writes `text` to `path` atomically: temp file (given mode) + fsync + rename. */
export async function writeFileAtomic(path: string, text: string, options: WriteFileOptions): Promise<void> {
  await makeDirectories(dirname(path), options.dirMode ?? 0o700);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let renamed = false;
  try {
    const handle = await open(tmp, 'wx', options.mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, options.mode); // the umask may have narrowed or (0644 files) the mode is wanted as is
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

/** JSON text as VOLTTRON writes its files (2-space indent, trailing newline). */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
