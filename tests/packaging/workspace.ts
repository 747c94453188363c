// What the packaging tests share: the workspace's packages as npm sees them, and commands run
// with an environment of our choosing (not the npm_* variables of the `npm test` around us).
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ManifestSchema = z.looseObject({
  name: z.string(),
  version: z.string(),
  private: z.boolean().optional(),
  dependencies: z.record(z.string(), z.string()).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema> & Record<string, unknown>;

export interface WorkspacePackage {
  /** e.g. `packages/agent` */
  readonly dir: string;
  readonly path: string;
  readonly manifest: Manifest;
}

/** Every workspace package (packages/*, apps/*), private ones included. */
export function workspacePackages(): WorkspacePackage[] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(ROOT, group), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => {
        const dir = `${group}/${d.name}`;
        const path = join(ROOT, dir);
        return { dir, path, manifest: ManifestSchema.parse(JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'))) as Manifest };
      }),
  );
}

/** The packages a release publishes (not private). */
export function publishedPackages(): WorkspacePackage[] {
  return workspacePackages().filter((p) => p.manifest.private !== true);
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The parent environment without npm's per-script variables (npm_config_*, npm_package_*...),
 * which would otherwise steer an npm run inside a temporary project back to this workspace.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS') env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Run a command to its end (bounded by `timeoutMs`); never throws on a non-zero exit: the caller checks `code`. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd,
        env: options.env ?? cleanEnv(),
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')}: ${err.message}${err.killed ? ' (killed: time limit)' : ''}\n${stderr}`));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** A failed command's story, for an assertion message. */
export function describeRun(what: string, r: RunResult): string {
  return `${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}
