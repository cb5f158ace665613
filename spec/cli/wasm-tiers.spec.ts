import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from './cli-harness.js';

const run = promisify(execFile);

/*
 * In a child process, because the flag is process-wide. The probe compiles a WebAssembly
 * module after the call and asks V8 (--allow-natives-syntax) whether a hot function of it was
 * tiered up; what the setting buys in RSS is a bench figure (docs/performance.md).
 */
const PROBE = `
import { keepWasmOnBaselineCompiler } from './cli/wasm-tiers.ts';
const applied = keepWasmOnBaselineCompiler(process.execArgv, process.env.NODE_OPTIONS);
// (module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,1,127,1,127,3,2,1,0,7,5,1,1,102,0,0,10,9,1,7,0,32,0,65,1,106,11]);
const { f } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
let x = 0;
for (let i = 0; i < 5_000_000; i++) x = f(x) & 0xffff;
console.log(JSON.stringify({ applied, liftoff: %IsLiftoffFunction(f), turbofan: %IsTurboFanFunction(f) }));
`;

async function probe(flags: string[]): Promise<{ applied: boolean; liftoff: boolean; turbofan: boolean }> {
  const { stdout } = await run(process.execPath, ['--allow-natives-syntax', ...flags, '--import', 'tsx', '--input-type=module', '-e', PROBE], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '' },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as { applied: boolean; liftoff: boolean; turbofan: boolean };
}

describe('vcs-agent: WebAssembly kept on the baseline compiler', function () {
  this.timeout(60_000);

  it('keeps a hot WebAssembly function on Liftoff', async function () {
    // V8 13 (Node 24) no longer applies this flag once the process runs: there the call is a
    // no-op, which docs/performance.md says; Node 20 and 22 (the image's and the executables'
    // Node is 20) honour it.
    if (Number(process.versions.node.split('.')[0]) >= 24) this.skip();
    const result = await probe([]);
    expect(result).to.deep.include({ applied: true, liftoff: true, turbofan: false });
  });

  it('leaves V8 alone when the operator chose (and then it tiers up)', async function () {
    const result = await probe(['--wasm-tier-up']);
    expect(result.applied).to.equal(false);
    expect(result.turbofan).to.equal(true);
  });
});
