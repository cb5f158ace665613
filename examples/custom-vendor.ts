/*
 * A vendor for a made-up VCS ("Forgejoish"), and an extension of the built-in GitLab vendor,
 * each evaluated against a few requests. Run with: npx tsx examples/custom-vendor.ts
 */
// In an application: import { createVendorPolicy, defineVendor, gitlab } from 'vcs-agent';
import type { PolicyRequest } from '../lib/policy/request-policy.js';
import { createVendorPolicy, defineVendor, gitlab } from '../lib/vendors/index.js';

type PolicyRequestLike = Omit<PolicyRequest, 'rawHeaders'>;

// 1. A new vendor: rules (method + path pattern + description) and how to find the project.
const forgejoish = defineVendor({
  name: 'forgejoish',
  rules: [
    { method: 'GET', path: '/api/v1/user', description: "Get the token's user", scope: 'global' },
    { method: 'GET', path: '/api/v1/repos/:owner/:repo', description: 'Get a repository' },
    { method: 'GET', path: '/api/v1/repos/:owner/:repo/raw/*filepath', description: 'Get a raw file' },
    { method: 'POST', path: '/api/v1/repos/:owner/:repo/statuses/:sha', description: 'Create a commit status' },
  ],
  // Parameter constraints, matched against the raw segment.
  params: { owner: '[A-Za-z0-9_.-]+', repo: '[A-Za-z0-9_.-]+', sha: '[0-9a-f]{40}' },
  // The canonical "group/repository" that --allowed-projects is matched against.
  project: (params) => (params.owner && params.repo ? { path: `${params.owner}/${params.repo}` } : undefined),
});

// 2. Extending a built-in: GitLab plus pipelines, minus webhook deletion.
const gitlabWithPipelines = defineVendor({
  name: 'gitlab-pipelines',
  extends: gitlab,
  rules: [{ method: 'GET', path: '/api/v4/projects/:project/pipelines', description: 'List pipelines' }],
  without: ['DELETE /api/v4/projects/:project/hooks/:hook_id'],
});

function show(title: string, policy: ReturnType<typeof createVendorPolicy>, requests: readonly PolicyRequestLike[]): void {
  console.log(`\n${title} (${policy.name})`);
  for (const request of requests) {
    const decision = policy.evaluate({ ...request, rawHeaders: [] });
    const verdict = decision.allow
      ? `ALLOW  ${decision.description}${decision.project ? ` [${decision.project}]` : ''}`
      : `DENY   ${decision.reason}`;
    console.log(`  ${request.method.padEnd(6)} ${request.path}\n         -> ${verdict}`);
  }
}

show('Made-up VCS, only acme/* projects', createVendorPolicy(forgejoish, { allowedProjects: 'acme/.*' }), [
  { method: 'GET', path: '/api/v1/user' },
  { method: 'GET', path: '/api/v1/repos/acme/infra/raw/stacks/prod/main.tf?ref=main' },
  { method: 'GET', path: '/api/v1/repos/other/secrets' },
  { method: 'DELETE', path: '/api/v1/repos/acme/infra' },
  { method: 'GET', path: '/api/v1/repos/acme/infra/raw/%2e%2e/%2e%2e/admin' },
  { method: 'POST', path: '/api/v1/repos/acme/infra/statuses/0123456789abcdef0123456789abcdef01234567' },
]);

show('GitLab with pipelines', createVendorPolicy(gitlabWithPipelines), [
  { method: 'GET', path: '/api/v4/projects/acme%2Finfra/pipelines' },
  { method: 'DELETE', path: '/api/v4/projects/acme%2Finfra/hooks/3' },
  { method: 'GET', path: '/api/v4/projects/acme%2Finfra?sudo=root' },
]);
