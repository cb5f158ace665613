import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from './cli-harness.js';

/*
 * What each command line loads when it starts, read from the build (dist/): the packages its
 * static import graph reaches. Optional features load their modules with import() when
 * switched on, and a static import anywhere in the graph (one shared helper in the wrong
 * module is enough: esbuild puts modules reached by the same entries into one chunk) would
 * make every process carry them: gRPC costs ~18 MiB of RSS (docs/performance.md § Memory).
 */

/** Static imports of one built file: relative chunks to follow, and packages. */
function staticImports(file: string): { files: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const files: string[] = [];
  const packages: string[] = [];
  // `import … from "x"` and `import "x"`, not `import("x")` (loaded on demand).
  for (const match of text.matchAll(/^import\s+(?:[^"'();]*?\s+from\s+)?["']([^"']+)["']/gm)) {
    const target = match[1] as string;
    if (target.startsWith('.')) files.push(resolve(dirname(file), target));
    else packages.push(target);
  }
  return { files, packages };
}

/** Every package the static graph from `entries` reaches. */
function packagesReached(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const found = staticImports(file);
    for (const name of found.packages) packages.add(name);
    queue.push(...found.files);
  }
  return packages;
}

function built(name: string): string {
  const file = join(REPO_ROOT, 'dist', 'cli', name);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  return file;
}

describe('command lines: what they load at start-up (dist/)', function () {
  it('vcs-gateway loads neither gRPC (the Spacelift listener loads it when on), nor Redis\'s client without --redis, nor the agent\'s VCS client', function () {
    // The launcher only tunes the heap, then loads the program with import(): follow that one.
    const launcher = built('vcs-gateway.js');
    const program = /await import\("([^"]+)"\)/.exec(readFileSync(launcher, 'utf8'))?.[1];
    expect(program, 'the launcher loads the program').to.be.a('string');
    const packages = packagesReached([resolve(dirname(launcher), program as string)]);
    expect(packages).to.include('yargs'); // the walk reaches the program's own imports
    // ioredis only with --redis (lib/gateway/cluster/redis-client.ts requires it on the first client).
    for (const name of ['@grpc/grpc-js', '@grpc/proto-loader', 'undici', '@bugsnag/node', 'prom-client', 'ioredis']) {
      expect(packages, name).to.not.include(name);
    }
  });

  it('vcs-agent loads no gRPC (only with --protocol spacelift) and no optional feature', function () {
    const packages = packagesReached([built('vcs-agent.js')]);
    expect(packages).to.include('undici'); // its VCS client
    // ipaddr.js only once an IP literal is parsed (lib/proxy/no-proxy.ts).
    for (const name of ['@grpc/grpc-js', '@grpc/proto-loader', 'ioredis', '@bugsnag/node', 'prom-client', 'https-proxy-agent', 'ipaddr.js']) {
      expect(packages, name).to.not.include(name);
    }
  });
});
