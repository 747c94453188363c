#!/usr/bin/env node
// The package map of docs/ARCHITECTURE.md, enforced. Every import, export-from, dynamic import(),
// require() and vi.mock() specifier of every TypeScript file under packages/, apps/ and tests/ is
// read with the TypeScript parser and checked against:
//
//   - the projects: each packages/* and apps/* directory with a package.json (its name, its
//     declared dependencies, its subpath `exports`, its Nx tags in `nx.tags`), plus tests/ as the
//     project "tests" that may use every workspace package;
//   - the tag rules in tools/boundaries/dep-constraints.json, in the shape of Nx's
//     @nx/enforce-module-boundaries `depConstraints` ({ sourceTag, onlyDependOnLibsWithTags }).
//
// Rules (each violation names its rule):
//   path-escape    a relative import resolves outside its own project (into another package's
//                  src/ or test/, or out of tests/ into packages/; tests/ may use tools/, the
//                  workspace's own tooling, which is no package)
//   workspace-path a bare specifier that names a repository path (packages/..., apps/...), which
//                  tsconfig's baseUrl would otherwise resolve
//   not-exported   @vip/x/sub where ./sub is not in x's package.json exports (no deep imports)
//   undeclared     a package imports a @vip package or a library its package.json does not
//                  declare (source files: dependencies and peerDependencies; test files also
//                  devDependencies; tests/ and test files: the root package.json too)
//   tag            a source file imports a package its Nx tags may not depend on
//   self-import    a package's source imports itself by name instead of by relative path (a
//                  test may: that is how it tests the package's public entries)
//   export-star    `export * from` in a package's source: every export is listed by name
//   test-layout    a test file in a package's src/: a package's tests live in its test/ folder
//   file-cycle     a cycle in the graph of files inside one project (type-only imports included:
//                  the map should read one way even where the compiler erases the edge)
//   package-cycle  a cycle in the graph of workspace packages as their package.json files
//                  declare them (devDependencies included: Nx builds along them)
//
// Usage: node tools/boundaries/check-imports.mjs [root]   (exit 1 and one line per violation)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const BUILTINS = new Set(builtinModules);
const SKIP_DIRS = new Set(['node_modules', 'dist', '.nx', 'coverage', '__snapshots__', 'fixtures']);
const TEST_FILE = /(^|\/)(test|tests)\/|\.test\.ts$|\.suite\.ts$/;

/** @typedef {{ name: string, root: string, tags: string[], deps: Set<string>, devDeps: Set<string>, exports: Set<string> | undefined, workspace: boolean }} Project */
/** @typedef {{ rule: string, file: string, line: number, message: string }} Violation */

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Subpaths a package exports ('.' and './sub'), without './package.json'; undefined when it has no exports map. */
function exportedSubpaths(manifest) {
  if (manifest.exports === undefined) return undefined;
  if (typeof manifest.exports === 'string') return new Set(['.']);
  const keys = Object.keys(manifest.exports);
  return new Set(keys.every((k) => k.startsWith('.')) ? keys.filter((k) => k !== './package.json') : ['.']);
}

/** The workspace's projects: packages/* and apps/* with a package.json, and tests/. */
export function loadProjects(root) {
  /** @type {Project[]} */
  const projects = [];
  for (const group of ['packages', 'apps']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const manifestPath = join(dir, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
      const m = readJson(manifestPath);
      projects.push({
        name: m.name,
        root: join(dir, entry.name),
        tags: m.nx?.tags ?? [],
        deps: new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})]),
        devDeps: new Set(Object.keys(m.devDependencies ?? {})),
        exports: exportedSubpaths(m),
        workspace: true,
      });
    }
  }
  const rootManifest = readJson(join(root, 'package.json'));
  const rootDeps = new Set([...Object.keys(rootManifest.dependencies ?? {}), ...Object.keys(rootManifest.devDependencies ?? {})]);
  // tests/: may use every workspace package, through its public entries only.
  projects.push({
    name: 'tests',
    root: join(root, 'tests'),
    tags: ['type:tests'],
    deps: new Set(projects.map((p) => p.name)),
    devDeps: new Set(),
    exports: undefined,
    workspace: false,
  });
  return { projects, rootDeps };
}

function listFiles(dir) {
  /** @type {string[]} */
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier of a file with its line and whether only types cross it. */
export function specifiersOf(fileName, text) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  /** @type {{ specifier: string, line: number, typeOnly: boolean, star?: boolean }[]} */
  const found = [];
  const add = (node, literal, typeOnly, star = false) => {
    if (literal && ts.isStringLiteralLike(literal)) {
      found.push({
        specifier: literal.text,
        line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
        typeOnly,
        ...(star ? { star } : {}),
      });
    }
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly =
        !!clause && (clause.isTypeOnly || (!clause.name && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const star = !node.exportClause || ts.isNamespaceExport(node.exportClause);
      if (node.moduleSpecifier) add(node, node.moduleSpecifier, node.isTypeOnly, star);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(node, arg.literal, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      const isMock =
        ts.isPropertyAccessExpression(callee) &&
        ts.isIdentifier(callee.expression) &&
        callee.expression.text === 'vi' &&
        ['mock', 'doMock', 'importActual', 'importMock', 'unmock'].includes(callee.name.text);
      if ((isImport || isRequire || isMock) && node.arguments.length > 0) add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names (TypeScript's `.js` -> `.ts` mapping, index files). */
function resolveRelative(fromFile, specifier) {
  const base = resolve(dirname(fromFile), specifier);
  const stem = base.replace(/\.(c|m)?js$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.mts`, `${stem}.cts`, `${stem}.tsx`, join(base, 'index.ts')];
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return base;
}

/** '@vip/agent/rmq' -> ['@vip/agent', './rmq']; 'zod/v4' -> ['zod', './v4']. */
function splitPackage(specifier) {
  const parts = specifier.split('/');
  const n = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, n).join('/');
  const rest = parts.slice(n).join('/');
  return [name, rest === '' ? '.' : `./${rest}`];
}

function within(root, file) {
  const rel = relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
}

/** Tarjan's strongly connected components; each component of more than one node (or a self-edge) is a cycle. */
export function findCycles(graph) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const cycles = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? new Set()).has(v)) cycles.push(component.reverse());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

/** One path around a strongly connected component, for the message. */
function cyclePath(graph, component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const path = [start];
  const seen = new Set([start]);
  let at = start;
  for (;;) {
    const next = [...(graph.get(at) ?? [])].find((w) => members.has(w) && (w === start || !seen.has(w)));
    if (next === undefined || next === start) break;
    path.push(next);
    seen.add(next);
    at = next;
  }
  return [...path, start];
}

/** Check a workspace; returns the violations (empty when the map holds). */
export function checkWorkspace(root = process.cwd()) {
  root = resolve(root);
  const { projects, rootDeps } = loadProjects(root);
  const constraintsPath = join(root, 'tools/boundaries/dep-constraints.json');
  /** @type {{ sourceTag: string, onlyDependOnLibsWithTags: string[] }[]} */
  const constraints = existsSync(constraintsPath) ? readJson(constraintsPath).depConstraints : [];
  const byName = new Map(projects.filter((p) => p.workspace).map((p) => [p.name, p]));
  /** @type {Violation[]} */
  const violations = [];
  const report = (rule, file, line, message) => violations.push({ rule, file: relative(root, file), line, message });

  // package-cycle: the declared graph, devDependencies included.
  const packageGraph = new Map();
  for (const p of byName.values()) packageGraph.set(p.name, new Set([...p.deps, ...p.devDeps].filter((d) => byName.has(d))));
  for (const component of findCycles(packageGraph)) {
    const path = cyclePath(packageGraph, component);
    report(
      'package-cycle',
      join(byName.get(path[0]).root, 'package.json'),
      1,
      `packages depend on each other in a circle: ${path.join(' -> ')}`,
    );
  }

  for (const project of projects) {
    const fileGraph = new Map();
    const lines = new Map();
    const files = project.workspace
      ? [...listFiles(join(project.root, 'src')), ...listFiles(join(project.root, 'test'))]
      : listFiles(project.root);
    for (const file of files) {
      const rel = relative(project.root, file).split(sep).join('/');
      const isTest = !project.workspace || TEST_FILE.test(rel);
      if (project.workspace && rel.startsWith('src/') && /\.test\.ts$/.test(rel)) {
        report(
          'test-layout',
          file,
          1,
          `a test in src/: move it to ${relative(root, join(project.root, 'test', rel.slice(4)))} (node tools/boundaries/move-unit-tests.mjs ${relative(root, project.root)})`,
        );
      }
      const edges = new Set();
      fileGraph.set(file, edges);
      for (const { specifier, line, star } of specifiersOf(file, readFileSync(file, 'utf8'))) {
        if (star && project.workspace && !isTest)
          report('export-star', file, line, `'export * from ${specifier}': list every export by name`);
        if (specifier.startsWith('.')) {
          const target = resolveRelative(file, specifier);
          if (!within(project.root, target) && !(project.name === 'tests' && within(join(root, 'tools'), target))) {
            report(
              'path-escape',
              file,
              line,
              `'${specifier}' reaches ${relative(root, target)} outside ${relative(root, project.root)}: import another package by its name and public entry`,
            );
            continue;
          }
          if (/\.(c|m)?tsx?$/.test(target)) {
            edges.add(target);
            lines.set(`${file}\0${target}`, line);
          }
          continue;
        }
        if (specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0])) continue;
        if (/^(packages|apps|tests|tools)\//.test(specifier) || specifier.startsWith('/')) {
          report('workspace-path', file, line, `'${specifier}' names a repository path: import the package by its name`);
          continue;
        }
        const [name, subpath] = splitPackage(specifier);
        const target = byName.get(name);
        if (target === project && !isTest) {
          report('self-import', file, line, `'${specifier}' imports ${name} from inside itself: use a relative path`);
          continue;
        }
        if (target && target.exports && !target.exports.has(subpath)) {
          report('not-exported', file, line, `'${specifier}': ${name} exports ${[...target.exports].join(', ')}, not ${subpath}`);
          continue;
        }
        const declared =
          target === project || project.deps.has(name) || (isTest && (project.devDeps.has(name) || (!target && rootDeps.has(name))));
        if (!declared) {
          const where = project.workspace ? `${relative(root, project.root)}/package.json` : 'the root package.json';
          report(
            'undeclared',
            file,
            line,
            `'${specifier}': ${name} is not declared in ${where}${isTest ? '' : ' dependencies or peerDependencies'}`,
          );
          continue;
        }
        if (target && !isTest) {
          for (const tag of project.tags) {
            const rule = constraints.find((c) => c.sourceTag === tag);
            if (rule && !target.tags.some((t) => rule.onlyDependOnLibsWithTags.includes(t))) {
              const allowed =
                rule.onlyDependOnLibsWithTags.length > 0
                  ? `only on ${rule.onlyDependOnLibsWithTags.join(', ')}`
                  : 'on no workspace package';
              report(
                'tag',
                file,
                line,
                `'${specifier}': a project tagged ${tag} may depend ${allowed}; ${name} is ${target.tags.join(', ') || 'untagged'}`,
              );
            }
          }
        }
      }
    }
    for (const component of findCycles(fileGraph)) {
      const path = cyclePath(fileGraph, component);
      report(
        'file-cycle',
        path[0],
        lines.get(`${path[0]}\0${path[1]}`) ?? 1,
        `files import each other in a circle: ${path.map((f) => relative(project.root, f)).join(' -> ')}`,
      );
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

export function formatViolation(v) {
  return `${v.file}:${v.line}  [${v.rule}] ${v.message}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../..');
  const violations = checkWorkspace(root);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length > 0) {
    console.error(
      `\nimport map: ${violations.length} violation(s) of docs/ARCHITECTURE.md's dependency rule (tools/boundaries/check-imports.mjs)`,
    );
    process.exit(1);
  }
  console.log('import map: every import follows docs/ARCHITECTURE.md (tools/boundaries/check-imports.mjs)');
}
