import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRulesFile, loadVendorModule } from '../../cli/vendor-loading.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';

const vendorsIndex = fileURLToPath(new URL('../../lib/vendors/index.ts', import.meta.url));

async function rejection(promise: Promise<unknown>): Promise<InvalidOptionError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected a rejection');
}

describe('cli/vendor-loading', function () {
  let dir: string;
  const file = async (name: string, text: string): Promise<string> => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vcs-agent-vendors-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe('loadVendorModule', function () {
    it('loads a TypeScript module built with defineVendor()', async function () {
      const p = await file(
        'forge.ts',
        `import { defineVendor } from ${JSON.stringify(vendorsIndex)};
export default defineVendor({
  name: 'forge',
  rules: [{ method: 'GET', path: '/api/repos/:owner/:repo', description: 'Get a repository' }],
  project: (p) => ({ path: \`\${p.owner}/\${p.repo}\` }),
});
`,
      );
      const vendor = await loadVendorModule(p);
      expect(vendor.name).to.equal('forge');
      const decision = createVendorPolicy(vendor).evaluate({ method: 'GET', path: '/api/repos/a/b', rawHeaders: [] });
      expect(decision).to.include({ allow: true, project: 'a/b' });
    });

    it('loads a plain .mjs module exporting `vendor`', async function () {
      const p = await file('plain.mjs', `export const vendor = { name: 'plain', rules: [{ method: 'GET', path: '/api/me', description: 'Me', scope: 'global' }] };\n`);
      expect((await loadVendorModule(p)).rules).to.have.length(1);
    });

    it('names --vendor-module when the file is missing, not a module, empty or malformed', async function () {
      const cases: Array<[string, RegExp]> = [
        [path.join(dir, 'missing.js'), /not found/],
        [await file('notes.txt', 'x'), /expected a \.js/],
        [await file('empty.mjs', 'export const x = 1;\n'), /must export a vendor definition/],
        [await file('syntax.mjs', 'export default {\n'), /could not be imported/],
        [await file('bad.mjs', `export default { name: 'bad', rules: [{ method: 'GET', path: 'nope', description: 'x' }] };\n`), /rules\[0\]\.path/],
      ];
      for (const [p, pattern] of cases) {
        const error = await rejection(loadVendorModule(p));
        expect(error.option).to.equal('vendor-module');
        expect(error.message).to.match(/^--vendor-module /);
        expect(error.message).to.match(pattern);
      }
    });
  });

  describe('loadRulesFile', function () {
    it('reads YAML and JSON lists, and a { rules } object', async function () {
      const yaml = await file(
        'rules.yaml',
        `- method: GET\n  path: /api/v4/projects/:project/pipelines\n  description: List pipelines\n- method: GET\n  path: /api/v4/version\n  description: Get the version\n  scope: global\n`,
      );
      const json = await file('rules.json', JSON.stringify({ rules: [{ method: 'GET', path: '/api/v4/version', description: 'Get the version', scope: 'global' }] }));
      const fromYaml = await loadRulesFile(yaml);
      expect(fromYaml).to.have.length(2);
      expect(await loadRulesFile(json)).to.deep.equal([{ method: 'GET', path: '/api/v4/version', description: 'Get the version', scope: 'global' }]);
      const policy = createVendorPolicy('gitlab', { extraRules: fromYaml });
      expect(policy.evaluate({ method: 'GET', path: '/api/v4/projects/a%2Fb/pipelines', rawHeaders: [] })).to.include({
        allow: true,
        description: 'List pipelines',
      });
    });

    it('names --rules-file, the entry index and the field at fault', async function () {
      const cases: Array<[string, string, RegExp]> = [
        ['missing.yaml', '', /not found/],
        ['bad.yaml', 'a: [', /not valid YAML/],
        ['bad.json', '{', /not valid JSON/],
        ['scalar.yaml', 'hello', /expected a list of rules/],
        ['entry.yaml', '- 5\n', /entry 0: expected an object/],
        ['method.yaml', '- { method: get, path: /x, description: d }\n', /entry 0: field "method"/],
        ['nopath.yaml', '- { method: GET, description: d }\n', /entry 0: field "path" must be a string/],
        ['path.yaml', '- { method: GET, path: /ok, description: d }\n- { method: GET, path: /a/../b, description: d }\n', /entry 1: field "path"/],
        ['desc.yaml', '- { method: GET, path: /x, description: "" }\n', /entry 0: field "description"/],
        ['scope.yaml', '- { method: GET, path: /x, description: d, scope: all }\n', /entry 0: field "scope"/],
        ['extra.yaml', '- { method: GET, path: /x, description: d, allow: true }\n', /entry 0: unknown field "allow"/],
        ['alias.yaml', 'a: &x [1]\nrules: *x\n', /not valid YAML/],
      ];
      for (const [name, text, pattern] of cases) {
        const p = name === 'missing.yaml' ? path.join(dir, name) : await file(name, text);
        const error = await rejection(loadRulesFile(p));
        expect(error.option, name).to.equal('rules-file');
        expect(error.message, name).to.match(/^--rules-file /);
        expect(error.message, name).to.match(pattern);
      }
    });
  });
});
