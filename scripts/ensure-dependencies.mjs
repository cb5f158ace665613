// Runs before `npm run demo` and `npm test` (predemo/pretest): on a fresh
// clone, installs the locked dependencies with `npm ci` first, so the README's
// quick start is two commands. Plain JavaScript with no dependency of its own,
// since it runs before any are installed. An existing install is left alone
// (a changed package-lock.json is the developer's `npm ci` to run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// npm writes node_modules/.package-lock.json at the end of every install.
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  process.stderr.write('node_modules is missing: running npm ci first\n');
  const npm = process.env.npm_execpath;
  // Under `npm run`, npm_execpath is npm's own CLI script: run it with this Node.
  const [command, args] = npm !== undefined && npm.endsWith('.js')
    ? [process.execPath, [npm, 'ci', '--no-audit', '--no-fund']]
    : ['npm', ['ci', '--no-audit', '--no-fund']];
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`npm ci failed (${result.status ?? result.signal}); fix the install and run the command again\n`);
    process.exit(1);
  }
}
