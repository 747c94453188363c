import { defineConfig } from 'tsup';

// The app bundles the workspace packages but keeps native/third-party modules external:
// bundling zeromq breaks its dynamic require of the prebuilt addon.
export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  tsconfig: '../../tsconfig.base.json',
  external: ['zeromq', 'amqplib', 'zod'],
  banner: { js: '#!/usr/bin/env node' },
});
