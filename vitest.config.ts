import { defineConfig } from 'vitest/config';

const shared = {
  // Sibling packages are tested from source through tsconfig paths; no build needed for unit tests.
  resolve: { tsconfigPaths: true },
};

const pkg = (name: string, dir = `packages/${name}`) => ({
  ...shared,
  test: {
    name,
    root: dir,
    include: ['test/**/*.test.ts'], // one layout: a package's tests in test/ (tools/boundaries checks none is in src/)
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

export default defineConfig({
  ...shared,
  test: {
    projects: [
      pkg('protocol'),
      pkg('auth'),
      pkg('keydiscovery'),
      pkg('config-store'),
      pkg('zmq'),
      pkg('rmq'),
      pkg('pubsub'),
      pkg('router'),
      pkg('agent'),
      pkg('proxy-router'),
      pkg('testing'),
      pkg('platform', 'apps/platform'),
      pkg('vipctl', 'apps/vipctl'),
      // The import map of docs/ARCHITECTURE.md (tools/boundaries) and the formatter (tools/format): each check, and each failing on a bad file.
      {
        ...shared,
        test: { name: 'tools', root: 'tools', include: ['boundaries/**/*.test.ts', 'format/**/*.test.ts'], testTimeout: 120_000 },
      },
      {
        ...shared,
        test: { name: 'integration', root: 'tests', include: ['integration/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      // The packages as users get them: publint and arethetypeswrong on each packed package; a
      // Verdaccio registry, the release command publishing to it, installs into empty projects.
      {
        ...shared,
        test: { name: 'packaging', root: 'tests', include: ['packaging/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 600_000 },
      },
    ],
  },
});
