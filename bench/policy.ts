/*
 * `npm run bench:policy`: how long one policy decision takes (canonical-path checks, rule
 * match, project check), per vendor. Speed is measured here, not asserted in specs.
 */
import { createVendorPolicy, type VendorName } from '../lib/vendors/index.js';
import type { PolicyRequest } from '../lib/policy/request-policy.js';

const SAMPLES: Record<VendorName, PolicyRequest[]> = {
  gitlab: [
    { method: 'GET', path: '/api/v4/projects/acme%2Finfra/repository/files/stacks%2Fmain.tf/raw?ref=main', rawHeaders: ['accept', 'application/json'] },
    { method: 'POST', path: '/api/v4/projects/acme%2Finfra/statuses/0123456789abcdef0123456789abcdef01234567', rawHeaders: ['content-type', 'application/json'], hasBody: true },
    { method: 'GET', path: '/api/v4/projects/acme%2Finfra/variables', rawHeaders: [] },
  ],
  github_enterprise: [
    { method: 'GET', path: '/api/v3/repos/acme/infra/contents/stacks%2Fprod%2Fmain.tf?ref=main', rawHeaders: ['accept', 'application/json'] },
    { method: 'POST', path: '/api/v3/repos/acme/infra/issues/7/comments', rawHeaders: ['content-type', 'application/json'], hasBody: true },
    { method: 'GET', path: '/api/v3/repos/acme/infra/actions/secrets', rawHeaders: [] },
  ],
  azure_devops: [
    { method: 'GET', path: '/DefaultCollection/acme/_apis/git/repositories/infra/items?path=%2Fmain.tf&api-version=7.1', rawHeaders: [] },
    { method: 'GET', path: '/DefaultCollection/acme/_apis/build/builds?api-version=7.1', rawHeaders: [] },
  ],
  bitbucket_datacenter: [
    { method: 'GET', path: '/rest/api/1.0/projects/ACME/repos/infra/browse/stacks/main.tf?at=main', rawHeaders: [] },
    { method: 'GET', path: '/rest/api/1.0/admin/users', rawHeaders: [] },
  ],
};

const n = 200_000;
console.log('| vendor | µs per decision (allowed-projects set) |');
console.log('|---|---:|');
for (const [vendor, requests] of Object.entries(SAMPLES) as Array<[VendorName, PolicyRequest[]]>) {
  const policy = createVendorPolicy(vendor, { allowedProjects: '(acme|ACME)/.*' });
  for (let i = 0; i < 20_000; i++) policy.evaluate(requests[i % requests.length] as PolicyRequest);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) policy.evaluate(requests[i % requests.length] as PolicyRequest);
  console.log(`| ${vendor} | ${(Number(process.hrtime.bigint() - started) / 1000 / n).toFixed(2)} |`);
}
