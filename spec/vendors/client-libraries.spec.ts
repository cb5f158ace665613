import { expect } from 'chai';
import type http from 'node:http';
import { createVendorPolicy, type VendorName } from '../../lib/vendors/index.js';
import type { PolicyDecision, RequestPolicy } from '../../lib/policy/request-policy.js';
import { RULE_METHODS } from '../../lib/policy/vendor-definition.js';
import { recordAzureDevOps, recordGitbeaker, recordOctokit, type RecordedRequest, type Recording } from './client-recordings.js';

function rawHeaders(headers: http.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'host' || name === 'connection' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
  }
  return out;
}

/* What the agent does: evaluate, and when the policy must see the body, decide on the body sent. */
function decide(policy: RequestPolicy, r: RecordedRequest, method: string = r.method): PolicyDecision {
  const decision = policy.evaluate({ method, path: r.url, rawHeaders: rawHeaders(r.headers), hasBody: r.body.length > 0 });
  if (decision.allow || decision.inspectBody === undefined) return decision;
  return decision.inspectBody.decide(r.body);
}

interface LibraryCase {
  readonly library: string;
  readonly vendor: VendorName;
  readonly record: () => Promise<Recording>;
  /** Operations we call; each must have sent at least one request. */
  readonly minOperations: number;
  /** The canonical project the calls use, and one they do not. */
  readonly project: string;
  readonly otherProject: string;
}

const CASES: readonly LibraryCase[] = [
  { library: '@octokit/rest', vendor: 'github_enterprise', record: recordOctokit, minOperations: 33, project: 'acme/infra', otherProject: 'acme/other' },
  { library: '@gitbeaker/rest', vendor: 'gitlab', record: recordGitbeaker, minOperations: 31, project: 'acme/platform/infra', otherProject: 'acme/other' },
  {
    library: 'azure-devops-node-api',
    vendor: 'azure_devops',
    record: recordAzureDevOps,
    minOperations: 28,
    project: 'Platform Team/infra',
    otherProject: 'Platform Team/other',
  },
];

for (const c of CASES) {
  describe(`${c.vendor}: requests sent by ${c.library}`, function () {
    let recording: Recording;

    before(async function () {
      recording = await c.record();
    });

    it('calls every operation without the library failing', function () {
      expect(recording.failures).to.deep.equal([]);
      const operations = new Set(recording.requests.map((r) => r.operation));
      expect(operations.size).to.be.at.least(c.minOperations);
    });

    it('allows every request the library sent, each with a rule description', function () {
      const policy = createVendorPolicy(c.vendor);
      const denied = recording.requests
        .map((r) => ({ r, d: decide(policy, r) }))
        .filter(({ d }) => !d.allow)
        .map(({ r, d }) => `${r.operation}: ${r.method} ${r.url} -> ${d.allow ? '' : d.reason}`);
      expect(denied).to.deep.equal([]);
    });

    it('denies the same paths with any method no rule names', function () {
      const policy = createVendorPolicy(c.vendor);
      for (const r of recording.requests) {
        for (const method of [...RULE_METHODS, 'TRACE', 'CONNECT', 'PROPFIND', 'get']) {
          if (method === r.method) continue;
          const decision = decide(policy, r, method);
          if (decision.allow) {
            // Only legitimate when a different rule exists for that method and path.
            expect(decision.rule, `${method} ${r.url}`).to.match(new RegExp(`^${method} `));
          }
        }
      }
    });

    it('with allowed-projects naming the project: allows its requests, denies cross-project ones', function () {
      const policy = createVendorPolicy(c.vendor, { allowedProjects: c.project.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') });
      for (const r of recording.requests) {
        const decision = decide(policy, r);
        if (decision.allow) {
          if (decision.project !== undefined) expect(decision.project.toLowerCase()).to.equal(c.project.toLowerCase());
        } else {
          expect(decision.reason, `${r.operation} ${r.url}`).to.match(/allowed-projects/);
        }
      }
    });

    it('with allowed-projects naming another project: allows only requests not about a project', function () {
      const policy = createVendorPolicy(c.vendor, { allowedProjects: c.otherProject });
      for (const r of recording.requests) {
        const decision = decide(policy, r);
        if (decision.allow) expect(decision.project, `${r.operation} ${r.url}`).to.equal(undefined);
      }
      const allowed = recording.requests.filter((r) => policy.evaluate({ method: r.method, path: r.url, rawHeaders: [] }).allow);
      expect(allowed.length).to.be.lessThan(recording.requests.length / 4);
    });
  });
}
