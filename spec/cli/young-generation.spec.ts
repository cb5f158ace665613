import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from './cli-harness.js';

const run = promisify(execFile);

/*
 * In a child process, because the setting is process-wide: call the function, then churn
 * through short-lived objects the way a busy relay does, and report the young generation's
 * size (V8 grows it to 32 MiB under this churn when left alone).
 */
const PROBE = `
import { getHeapSpaceStatistics } from 'node:v8';
import { keepYoungGenerationSmall } from './cli/young-generation.ts';
const size = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
const applied = keepYoungGenerationSmall(process.execArgv, process.env.NODE_OPTIONS);
const before = size();
let keep = [];
for (let i = 0; i < 3_000_000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100_000) keep = []; }
console.log(JSON.stringify({ applied, before, after: size() }));
`;

/** Young generation sizes (MiB) when the function ran and after the churn. */
interface Probe {
  applied: boolean;
  before: number;
  after: number;
}

async function probe(env: Record<string, string> = {}): Promise<Probe> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim()) as Probe;
}

describe('vcs-gateway: young generation kept small', function () {
  this.timeout(60_000);

  // (Under tsx the loader has already grown it a little before the call; the built CLI calls
  // it before loading anything, at the 1 MiB start.)
  it('stops the young generation from growing under allocation churn', async function () {
    const result = await probe();
    expect(result.applied).to.equal(true);
    // V8 12 (Node 24) may still round the space up by under a MiB; left alone, this churn
    // grows it to 16-32 MiB, so a MiB of slack keeps the check meaningful.
    expect(result.after).to.be.at.most(result.before + 1);
  });

  it('leaves V8 alone when the operator chose a size in NODE_OPTIONS (and then it grows)', async function () {
    const result = await probe({ NODE_OPTIONS: '--max-semi-space-size=8' });
    expect(result.applied).to.equal(false);
    expect(result.after).to.be.greaterThan(result.before);
  });
});
