import { defineConfig, type Options } from 'tsup';

/**
 * The build every @vip package shares: ESM + CJS + .d.ts/.d.cts for node20, with the workspace's
 * compiler settings. A package names only its entries (`@vip/agent` has three) and what it does
 * differently (`extra`).
 *
 * `splitting` for CJS too (esbuild splits ESM only; tsup does it for CJS): without it each CJS
 * entry carries its own copy of the shared modules, so under `require` the Agent returned by
 * `@vip/agent/zmq` was not `instanceof` the Agent of `@vip/agent`.
 */
export function libraryConfig(entry: readonly string[] = ['src/index.ts'], extra: Options = {}): ReturnType<typeof defineConfig> {
  const options: Options = {
    entry: [...entry],
    format: ['esm', 'cjs'],
    splitting: true,
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    tsconfig: '../../tsconfig.base.json',
    ...extra,
  };
  return defineConfig(options);
}

/**
 * An app under apps/: one ESM executable that bundles the workspace packages but keeps native and
 * third-party modules external (bundling zeromq breaks its dynamic require of the prebuilt addon).
 */
export function appConfig(entry = 'src/main.ts'): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry: [entry],
    format: ['esm'],
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    tsconfig: '../../tsconfig.base.json',
    external: ['zeromq', 'amqplib', 'zod'],
    banner: { js: '#!/usr/bin/env node' },
  });
}
