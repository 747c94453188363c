import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  tsconfig: '../../tsconfig.base.json',
  // import.meta.url (the platform's path) in the CJS build.
  shims: true,
  // Resolved from the workspace root; bundling zeromq breaks its native addon.
  external: ['zeromq', 'zod', 'vitest'],
});
