import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VENDOR_NAMES, VENDORS } from '../../lib/vendors/index.js';

const docsDir = fileURLToPath(new URL('../../docs/vendors/', import.meta.url));

/* The docs are written by hand; this keeps them from drifting from the rule tables. */
describe('docs/vendors tables', function () {
  for (const vendor of VENDOR_NAMES) {
    it(`docs/vendors/${vendor}.md lists exactly the ${vendor} rules`, function () {
      const text = readFileSync(`${docsDir}${vendor}.md`, 'utf8');
      const rows = text
        .split('\n')
        .filter((line) => /^\|\s*(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\s*\|/.test(line))
        .map((line) => {
          const [method, path, description, scope] = line.split('|').slice(1, 5).map((cell) => cell.trim());
          return `${method} ${path?.replace(/^`|`$/g, '')} | ${description} | ${scope}`;
        });
      const expected = VENDORS[vendor].rules.map((r) => `${r.method} ${r.path} | ${r.description} | ${r.scope ?? 'project'}`);
      expect(rows).to.have.members(expected);
      expect(rows.length).to.equal(expected.length);
    });
  }
});
