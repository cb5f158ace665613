import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: ESM + CJS with type declarations for both.
    entry: { 'lib/index': 'lib/index.ts' },
    format: ['esm', 'cjs'],
    // import.meta.url in the CJS build too (lib/gateway/cluster/redis-client.ts loads ioredis lazily).
    shims: true,
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
  },
  {
    // The two command lines: ESM only, with a shebang, bundling our own code.
    entry: { 'cli/vcs-agent': 'cli/vcs-agent.ts', 'cli/vcs-gateway': 'cli/vcs-gateway.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
    // tsx loads a TypeScript --vendor-module at run time when installed; never bundle it.
    external: ['tsx', 'tsx/esm/api'],
  },
]);
