import { expect } from 'chai';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import type { PolicyDecision } from '../../lib/policy/request-policy.js';

/* What the agent does with a decision: when only the body can decide, decide on the body. */
function withBody(decision: PolicyDecision, body: string): PolicyDecision {
  if (decision.allow || decision.inspectBody === undefined) return decision;
  expect(Buffer.byteLength(body)).to.be.at.most(decision.inspectBody.maxBodyBytes);
  return decision.inspectBody.decide(Buffer.from(body));
}

// Rack turns form bodies into params, where `_method` overrides the method: GitLab POST/PUT
// bodies must be JSON, and a POST whose body is unknown must say it is JSON too.
describe('gitlab: request bodies', () => {
  const policy = createVendorPolicy('gitlab');
  const path = '/api/v4/projects/g%2Fr/repository/commits';
  const evaluate = (rawHeaders: string[], hasBody: boolean | undefined) => policy.evaluate({ method: 'POST', path, rawHeaders, ...(hasBody === undefined ? {} : { hasBody }) });

  it('allows JSON bodies once the body is checked', () => {
    const decision = evaluate(['content-type', 'application/json; charset=utf-8'], true);
    expect(decision.allow).to.equal(false);
    expect(withBody(decision, '{"branch":"main","commit_message":"m","actions":[]}')).to.include({ allow: true, description: 'Create a commit', project: 'g/r' });
  });
  it('allows a POST without a body, whatever its type', () => {
    expect(evaluate([], false).allow).to.equal(true);
  });
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'multipart/mixed; boundary=x', 'text/plain']) {
    it(`denies a ${type} body`, () => {
      expect(evaluate(['content-type', type], true).allow).to.equal(false);
    });
  }
  it('denies a body without a Content-Type, and one whose presence is unknown', () => {
    expect(evaluate([], true).allow).to.equal(false);
    expect(evaluate([], undefined).allow).to.equal(false);
  });
});

// GitLab merges JSON body keys into params (issue 13: `sudo` and `start_project` in a JSON
// body reached the VCS), and reads bodies of GET and DELETE too.
describe('gitlab: parameters in request bodies', () => {
  const json = ['content-type', 'application/json'];
  const commits = '/api/v4/projects/acme%2Finfra/repository/commits';

  it('denies sudo and method overrides in a JSON body, at any depth and in any spelling', () => {
    const policy = createVendorPolicy('gitlab');
    for (const body of [
      '{"branch":"main","sudo":"root"}',
      '{"SUDO":1}',
      '{"[sudo]":"root"}',
      '{"\\u0073udo":"root"}',
      '{"actions":[{"action":"create","sudo":"root"}]}',
      '{"_method":"DELETE"}',
    ]) {
      const decision = withBody(policy.evaluate({ method: 'POST', path: commits, rawHeaders: json, hasBody: true }), body);
      expect(decision.allow, body).to.equal(false);
      if (!decision.allow) expect(decision.reason, body).to.match(/body parameter "(sudo|_method)" is not allowed/);
    }
  });

  it('checks projects a JSON body names against allowed-projects', () => {
    const policy = createVendorPolicy('gitlab', { allowedProjects: 'acme/infra' });
    const decide = (body: string): PolicyDecision => withBody(policy.evaluate({ method: 'POST', path: commits, rawHeaders: json, hasBody: true }), body);
    expect(decide('{"branch":"b","start_project":"acme/infra"}').allow).to.equal(true);
    expect(decide('{"branch":"b","start_project":"acme%2Finfra"}').allow).to.equal(true);
    for (const body of ['{"start_project":"evil/secrets"}', '{"start_project":"evil%2Fsecrets"}', '{"start_project":42}', '{"start_project":"42"}', '{"from_project_id":7}', '{"start_project":null}']) {
      const decision = decide(body);
      expect(decision.allow, body).to.equal(false);
    }
    expect(withBody(createVendorPolicy('gitlab').evaluate({ method: 'POST', path: commits, rawHeaders: json, hasBody: true }), '{"start_project":42}').allow).to.equal(true);
  });

  it('denies repeated keys and bodies that are not JSON', () => {
    const policy = createVendorPolicy('gitlab', { allowedProjects: 'acme/infra' });
    const decision = policy.evaluate({ method: 'POST', path: commits, rawHeaders: json, hasBody: true });
    for (const body of ['{"start_project":"acme/infra","start_project":"evil/x"}', '{"a":{"b":1,"\\u0062":2}}', '{"branch":', 'branch=main']) {
      expect(withBody(decision, body).allow, body).to.equal(false);
    }
  });

  it('denies form bodies on GET and DELETE, and checks JSON ones', () => {
    const policy = createVendorPolicy('gitlab', { allowedProjects: 'acme/infra' });
    const form = ['content-type', 'application/x-www-form-urlencoded'];
    const compare = '/api/v4/projects/acme%2Finfra/repository/compare?from=a&to=b';
    const hook = '/api/v4/projects/acme%2Finfra/hooks/3';
    expect(policy.evaluate({ method: 'GET', path: compare, rawHeaders: form, hasBody: true }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'DELETE', path: hook, rawHeaders: form, hasBody: true }).allow).to.equal(false);
    expect(policy.evaluate({ method: 'GET', path: compare, rawHeaders: [], hasBody: true }).allow).to.equal(false);
    // The caller cannot tell, but the headers announce a body.
    expect(policy.evaluate({ method: 'GET', path: compare, rawHeaders: [...form, 'content-length', '30'] }).allow).to.equal(false);
    expect(withBody(policy.evaluate({ method: 'GET', path: compare, rawHeaders: json, hasBody: true }), '{"from_project_id":9,"sudo":"root"}').allow).to.equal(false);
    // @gitbeaker/rest sends `{}` with DELETE.
    expect(withBody(policy.evaluate({ method: 'DELETE', path: hook, rawHeaders: json, hasBody: true }), '{}').allow).to.equal(true);
    expect(policy.evaluate({ method: 'GET', path: compare, rawHeaders: [], hasBody: false }).allow).to.equal(true);
    expect(policy.evaluate({ method: 'GET', path: compare, rawHeaders: [] }).allow).to.equal(true);
  });
});
