// yamllint (Debian package "yamllint") over the gateway chart's plain YAML files and its
// rendered example, with the rules yamllint.spec.ts applies to the agent chart. Templates
// are Go templates, left to helm lint. Skipped without yamllint, except under CI=true.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { gatewayChartDir, gatewayRenderedExamplePath, requireDebianProgram } from './tools.js';

const yamllintConfig =
  '{extends: default, rules: {line-length: {max: 160}, document-start: disable, indentation: {spaces: 2, indent-sequences: whatever}}}';

describe('yamllint: charts/vcs-gateway', () => {
  it('passes Chart.yaml, values.yaml and docs/examples/helm-gateway-rendered.yaml', async function () {
    const program = requireDebianProgram(this, 'yamllint', 'yamllint');
    const files = [join(gatewayChartDir, 'Chart.yaml'), join(gatewayChartDir, 'values.yaml'), gatewayRenderedExamplePath];
    const result = await new Promise<{ code: number; output: string }>((resolvePromise, reject) => {
      execFile(program, ['--strict', '-f', 'parsable', '-d', yamllintConfig, ...files], { timeout: 30_000 }, (error, stdout, stderr) => {
        if (error !== null && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
        resolvePromise({ code: error === null ? 0 : Number((error as { code?: unknown }).code), output: stdout + stderr });
      });
    });
    expect(result.output).to.equal('');
    expect(result.code).to.equal(0);
  });
});
