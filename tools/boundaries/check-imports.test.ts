// The import-map check itself: the repository passes it, and each rule fails on a deliberate bad
// import in a small workspace written to a temporary directory (never scanned by the real check).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkWorkspace, formatViolation, type Violation } from './check-imports.mjs';

const check = checkWorkspace;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const CONSTRAINTS = {
  depConstraints: [
    { sourceTag: 'layer:0', onlyDependOnLibsWithTags: [] },
    { sourceTag: 'layer:1', onlyDependOnLibsWithTags: ['layer:0'] },
    { sourceTag: 'layer:2', onlyDependOnLibsWithTags: ['layer:0', 'layer:1'] },
  ],
};

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
});

interface FixturePackage {
  tags: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports?: string[];
  files: Record<string, string>;
}

/** A workspace of `packages/<dir>` with package.json files and sources; `extra` files relative to the root. */
async function workspace(packages: Record<string, FixturePackage>, extra: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'vip-import-map-'));
  dirs.push(root);
  const put = async (path: string, text: string) => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };
  await put('package.json', JSON.stringify({ name: 'ws', private: true, devDependencies: { vitest: '*' } }));
  await put('tools/boundaries/dep-constraints.json', JSON.stringify(CONSTRAINTS));
  for (const [dir, p] of Object.entries(packages)) {
    const exportsMap = Object.fromEntries((p.exports ?? ['.']).map((e) => [e, `./dist/${e === '.' ? 'index' : e.slice(2)}.js`]));
    await put(
      `packages/${dir}/package.json`,
      JSON.stringify({
        name: `@x/${dir}`,
        exports: { ...exportsMap, './package.json': './package.json' },
        dependencies: p.dependencies ?? {},
        devDependencies: p.devDependencies ?? {},
        nx: { tags: p.tags },
      }),
    );
    for (const [file, text] of Object.entries(p.files)) await put(`packages/${dir}/${file}`, text);
  }
  for (const [file, text] of Object.entries(extra)) await put(file, text);
  return root;
}

const base = (files: Record<string, string> = {}): Record<string, FixturePackage> => ({
  core: {
    tags: ['layer:0'],
    exports: ['.', './internal'],
    files: { 'src/index.ts': 'export const a = 1;\n', 'src/internal.ts': 'export const b = 2;\n' },
  },
  mid: {
    tags: ['layer:1'],
    dependencies: { '@x/core': '^1' },
    files: { 'src/index.ts': "import { a } from '@x/core';\nexport const m = a;\n", ...files },
  },
});

const rules = (violations: Violation[]) => violations.map((v) => v.rule);

describe('import map (tools/boundaries/check-imports.mjs)', () => {
  it('the repository follows docs/ARCHITECTURE.md: no violation', () => {
    const violations = check(ROOT);
    expect(violations.map((v) => formatViolation(v))).toEqual([]);
  });

  it('a clean fixture workspace passes (public entry, documented subpath, own relative files)', async () => {
    const root = await workspace(
      base({ 'src/b.ts': "import { b } from '@x/core/internal';\nimport { m } from './index.js';\nexport const c = b + m;\n" }),
    );
    expect(check(root)).toEqual([]);
  });

  it("fails on a relative import into another package's src/ (path-escape)", async () => {
    const root = await workspace(base({ 'src/bad.ts': "import { b } from '../../core/src/internal.js';\nexport const x = b;\n" }));
    const v = check(root);
    expect(rules(v)).toEqual(['path-escape']);
    expect(v[0]).toMatchObject({ file: 'packages/mid/src/bad.ts', line: 1 });
  });

  it('fails on a test in tests/ reaching into a package, also by dynamic import() and vi.mock()', async () => {
    const root = await workspace(base(), {
      'tests/integration/x.test.ts':
        "import { a } from '@x/core';\nconst m = await import('../../packages/mid/src/index.js');\nvi.mock('../../packages/core/src/index.js');\nexport { a, m };\n",
    });
    expect(check(root).map((v) => `${v.rule}:${v.line}`)).toEqual(['path-escape:2', 'path-escape:3']);
  });

  it('fails on a deep import that the package does not export (not-exported) and on a repository path (workspace-path)', async () => {
    const root = await workspace(
      base({ 'src/deep.ts': "export { a } from '@x/core/src/index.js';\nexport type { T } from 'packages/core/src/index.js';\n" }),
    );
    expect(rules(check(root))).toEqual(['not-exported', 'workspace-path']);
  });

  it('fails on an undeclared dependency, and on a devDependency used by a source file (undeclared)', async () => {
    const root = await workspace({
      ...base(),
      top: {
        tags: ['layer:2'],
        dependencies: { '@x/core': '^1' },
        devDependencies: { '@x/mid': '*' },
        files: {
          'src/index.ts': "import { m } from '@x/mid';\nimport { z } from 'zod';\nexport const t = [m, z];\n",
          'test/top.test.ts': "import { m } from '@x/mid';\nimport { it } from 'vitest';\nexport { m, it };\n",
        },
      },
    });
    const v = check(root);
    expect(v.map((x) => `${x.file}:${x.line}:${x.rule}`)).toEqual([
      'packages/top/src/index.ts:1:undeclared',
      'packages/top/src/index.ts:2:undeclared',
    ]);
  });

  it('fails when a lower layer imports a higher one, even when declared (tag)', async () => {
    const packages = base();
    packages.core = {
      ...packages.core!,
      dependencies: { '@x/mid': '^1' },
      files: { ...packages.core!.files, 'src/up.ts': "import { m } from '@x/mid';\nexport const u = m;\n" },
    };
    const v = check(await workspace(packages));
    expect(rules(v)).toContain('tag');
    expect(v.find((x) => x.rule === 'tag')?.message).toMatch(/tagged layer:0 may depend on no workspace package; @x\/mid is layer:1/);
    expect(rules(v)).toContain('package-cycle'); // core -> mid -> core
  });

  it('fails on a cycle between files, type-only imports included (file-cycle)', async () => {
    const root = await workspace(
      base({
        'src/one.ts': "import type { Two } from './two.js';\nexport interface One { two?: Two }\n",
        'src/two.ts': "import { three } from './three.js';\nexport interface Two { n: number }\nexport const two = three;\n",
        'src/three.ts': "import type { One } from './one.js';\nexport const three = 3 as number | One;\n",
      }),
    );
    const v = check(root);
    expect(rules(v)).toEqual(['file-cycle']);
    expect(v[0]!.message).toBe('files import each other in a circle: src/one.ts -> src/two.ts -> src/three.ts -> src/one.ts');
  });

  it('fails on a package cycle through a devDependency (package-cycle): @vip/testing must stay below the packages that test with it', async () => {
    const packages = base();
    packages.core = { ...packages.core!, devDependencies: { '@x/mid': '*' } };
    expect(rules(check(await workspace(packages)))).toEqual(['package-cycle']);
  });

  it('fails when a package source imports itself by name (self-import); its test may, to test its entries', async () => {
    const root = await workspace(
      base({
        'src/self.ts': "import { m } from '@x/mid';\nexport const s = m;\n",
        'test/entry.test.ts': "import { m } from '@x/mid';\nexport { m };\n",
      }),
    );
    expect(check(root).map((v) => `${v.file}:${v.rule}`)).toEqual(['packages/mid/src/self.ts:self-import']);
  });

  it('fails on export * in a package source, not in a test (export-star)', async () => {
    const root = await workspace(
      base({
        'src/all.ts': "export * from './index.js';\nexport * as core from '@x/core';\n",
        'test/all.test.ts': "export * from '../src/index.js';\n",
      }),
    );
    expect(check(root).map((v) => `${v.rule}:${v.line}`)).toEqual(['export-star:1', 'export-star:2']);
  });

  it('fails on a test beside the code in src/ (test-layout)', async () => {
    const root = await workspace(base({ 'src/sub/thing.test.ts': "import { it } from 'vitest';\nit('x', () => {});\n" }));
    const v = check(root);
    expect(rules(v)).toEqual(['test-layout']);
    expect(v[0]!.message).toContain('move it to packages/mid/test/sub/thing.test.ts');
  });
});
