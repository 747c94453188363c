import { libraryConfig } from '../../tools/tsup/presets';

export default libraryConfig(['src/index.ts'], {
  // import.meta.url (the platform's path) in the CJS build.
  shims: true,
  // Resolved from the workspace root; bundling zeromq breaks its native addon.
  external: ['zeromq', 'zod', 'vitest'],
});
