// The formatter (Biome, biome.json at the root) and its CI gate: the check tells an unformatted
// file from a formatted one, and once .ci/run enforces it the whole tree must be as `npm run format`
// writes it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIOME = join(ROOT, 'node_modules/.bin/biome');

function biome(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(BIOME, args, { cwd: ROOT, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** How a file would look after `npm run format` (a path inside the formatted folders; nothing is written). */
const formatted = (text: string, path = 'packages/protocol/src/format-probe.ts') => biome(['format', `--stdin-file-path=${path}`], text);

describe('formatter (biome.json)', () => {
  it('keeps the house style: 140 columns, two spaces, single quotes, semicolons, trailing commas', async () => {
    const good = [
      "import { a, b } from './x.js';",
      '',
      'export function f(items: readonly string[]): string[] {',
      "  return items.map((item) => `${item}!`).filter((item) => item !== '');",
      '}',
      "export const config = { url: 'amqp://127.0.0.1:5672', vhost: 'volttron', instanceName: 'inst', reconnect: { initialDelayMs: 200 } };",
      '',
    ].join('\n');
    const r = await formatted(good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(good);
  });

  it('tells an unformatted file: double quotes, a missing semicolon, a line over 140 columns', async () => {
    const bad = `const a = "x"\nexport const longer = { first: 'aaaaaaaaaaaaaaaaaaaa', second: 'bbbbbbbbbbbbbbbbbbbb', third: 'cccccccccccccccccccc', fourth: 'dddddddddddddddd' };\n`;
    const r = await formatted(bad);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toBe(bad);
    expect(r.stdout).toContain("const a = 'x';");
    expect(r.stdout.split('\n').every((line) => line.length <= 140)).toBe(true);
  });

  it('is a CI gate: npm run format / format:check, .ci/run enforces it, and the tree is formatted', async () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.format).toBe('biome format --write .');
    expect(scripts['format:check']).toBe('biome format .');
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toContain('npm run format:check');
    expect(ci).not.toMatch(/^FORMAT_CHECK=/m);
    const r = await biome(['format', '--reporter=summary', '.']);
    expect(r.code, `${r.stdout}\n${r.stderr}\nrun: npm run format`).toBe(0);
  });
});
