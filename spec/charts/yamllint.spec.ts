// yamllint (Debian package "yamllint") over the chart's plain YAML files and
// the rendered example. Templates are Go templates, not YAML, and are left to
// helm lint (helm.spec.ts). Skipped without yamllint, except under CI=true.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chartDir, renderedExamplePath, requireDebianProgram } from './tools.js';

// helm's toYaml writes lists unindented under their key, so either style is
// accepted; documents need no leading "---"; lines may reach 160 characters.
const yamllintConfig =
  '{extends: default, rules: {line-length: {max: 160}, document-start: disable, indentation: {spaces: 2, indent-sequences: whatever}}}';

function yamllint(program: string, files: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(program, ['--strict', '-f', 'parsable', '-d', yamllintConfig, ...files], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
      resolvePromise({ code: error === null ? 0 : Number((error as { code?: unknown }).code), output: stdout + stderr });
    });
  });
}

describe('yamllint', () => {
  it('passes Chart.yaml, values.yaml and the rendered example', async function () {
    const program = requireDebianProgram(this, 'yamllint', 'yamllint');
    const result = await yamllint(program, [join(chartDir, 'Chart.yaml'), join(chartDir, 'values.yaml'), renderedExamplePath]);
    expect(result.output).to.equal('');
    expect(result.code).to.equal(0);
  });

  it('reports a broken file (duplicate key), so a pass above means something', async function () {
    const program = requireDebianProgram(this, 'yamllint', 'yamllint');
    const dir = mkdtempSync(join(tmpdir(), 'vcs-agent-yamllint-'));
    try {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, 'replicaCount: 2\nreplicaCount: 3\n');
      const result = await yamllint(program, [file]);
      expect(result.code).to.not.equal(0);
      expect(result.output).to.contain('key-duplicates');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
