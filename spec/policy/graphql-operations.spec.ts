import { expect } from 'chai';
import { InvalidVendorError } from '../../lib/policy/invalid-vendor-error.js';
import type { PolicyDecision } from '../../lib/policy/request-policy.js';
import { createVendorPolicy, type VendorRule } from '../../lib/vendors/index.js';

const QUERY = 'query Reviews($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }';
const rule: VendorRule = {
  method: 'POST',
  path: '/api/graphql',
  description: 'Read repository reviews',
  scope: 'cross-project',
  graphql: [{ operationName: 'Reviews', query: QUERY }],
};
const policy = createVendorPolicy('github_enterprise', { extraRules: [rule] });
const json = ['content-type', 'application/json'];

function decideBody(body: unknown, headers: string[] = json): PolicyDecision {
  const first = policy.evaluate({ method: 'POST', path: '/api/graphql', rawHeaders: headers });
  if (first.allow) throw new Error('a GraphQL request must not be allowed before its body is seen');
  if (first.inspectBody === undefined) return first;
  return first.inspectBody.decide(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
}

describe('GraphQL: only exact operations a rule names', () => {
  it('allows the exact operation, with the rule and operation in the description', () => {
    const decision = decideBody({ query: QUERY, operationName: 'Reviews', variables: { owner: 'acme', name: 'infra' } });
    expect(decision).to.deep.include({ allow: true, description: 'Read repository reviews: Reviews' });
  });

  const denied: Array<[string, unknown, RegExp]> = [
    ['another document', { query: 'mutation { deleteRepository(id: 1) }', operationName: 'Reviews' }, /not allowed/],
    ['the same document with one more space', { query: `${QUERY} `, operationName: 'Reviews' }, /not allowed/],
    ['another operationName', { query: QUERY, operationName: 'Other' }, /"Other" is not allowed/],
    ['no operationName', { query: QUERY }, /needs a query and an operationName/],
    ['a batch', [{ query: QUERY, operationName: 'Reviews' }], /no batches/],
    ['persisted-query extensions', { query: QUERY, operationName: 'Reviews', extensions: { persistedQuery: {} } }, /"extensions" is not allowed/],
    ['variables that are not an object', { query: QUERY, operationName: 'Reviews', variables: [1] }, /variables must be an object/],
    ['a body that is not JSON', 'query=x', /not JSON/],
  ];
  for (const [name, body, reason] of denied) {
    it(`denies ${name}`, () => {
      const decision = decideBody(body);
      expect(decision.allow).to.equal(false);
      expect((decision as { reason: string }).reason).to.match(reason);
    });
  }

  it('denies a form-encoded or untyped body before reading it', () => {
    const decision = policy.evaluate({ method: 'POST', path: '/api/graphql', rawHeaders: ['content-type', 'application/x-www-form-urlencoded'] });
    expect(decision.allow).to.equal(false);
    expect((decision as { inspectBody?: unknown }).inspectBody).to.equal(undefined);
  });

  it('without a graphql rule, /api/graphql is denied outright', () => {
    const plain = createVendorPolicy('github_enterprise').evaluate({ method: 'POST', path: '/api/graphql', rawHeaders: json });
    expect(plain.allow).to.equal(false);
    expect((plain as { inspectBody?: unknown }).inspectBody).to.equal(undefined);
  });

  it('rejects malformed graphql rules, naming the field', () => {
    expect(() => createVendorPolicy('github_enterprise', { extraRules: [{ ...rule, method: 'GET' }] })).to.throw(InvalidVendorError, /method/);
    expect(() => createVendorPolicy('github_enterprise', { extraRules: [{ ...rule, graphql: [] }] })).to.throw(InvalidVendorError, /graphql/);
    expect(() => createVendorPolicy('github_enterprise', { extraRules: [{ ...rule, graphql: [{ operationName: 'a b', query: QUERY }] }] })).to.throw(
      InvalidVendorError,
      /operationName/,
    );
  });
});
