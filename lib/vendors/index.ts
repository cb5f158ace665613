import { createPolicyFromDefinition, type VendorPolicyOptions } from '../policy/vendor-policy.js';
import type { RequestPolicy } from '../policy/request-policy.js';
import type { VendorDefinition } from '../policy/vendor-definition.js';
import { azureDevops as azureDevopsApi } from './azure-devops.js';
import { bitbucketDatacenter as bitbucketDatacenterApi } from './bitbucket-datacenter.js';
import { githubEnterprise as githubEnterpriseApi } from './github-enterprise.js';
import { gitlab as gitlabApi } from './gitlab.js';
import { AZURE_DEVOPS_GIT, BITBUCKET_DATACENTER_GIT, GITHUB_ENTERPRISE_GIT, GITLAB_GIT } from './git-repository-urls.js';
import { withGitSmartHttp } from './git-smart-http.js';

// Each built-in vendor: its API rules plus read-only git smart HTTP (docs/git.md).
const azureDevops = withGitSmartHttp(azureDevopsApi, AZURE_DEVOPS_GIT);
const bitbucketDatacenter = withGitSmartHttp(bitbucketDatacenterApi, BITBUCKET_DATACENTER_GIT);
const githubEnterprise = withGitSmartHttp(githubEnterpriseApi, GITHUB_ENTERPRISE_GIT);
const gitlab = withGitSmartHttp(gitlabApi, GITLAB_GIT);

export { defineVendor } from '../policy/define-vendor.js';
import { InvalidVendorError } from '../policy/invalid-vendor-error.js';
export { InvalidVendorError };
export { ruleKey, RULE_METHODS, MAX_REDIRECT_HOPS } from '../policy/vendor-definition.js';
export { DEFAULT_ALLOWED_COLLECTIONS } from '../policy/vendor-policy.js';
export type {
  BodyInspection,
  BodyVerdict,
  GraphqlOperation,
  ProjectRef,
  RuleContext,
  RuleMethod,
  RuleParams,
  RuleScope,
  VendorDefinition,
  VendorDefinitionInput,
  VendorRule,
} from '../policy/vendor-definition.js';
export type { VendorPolicyOptions } from '../policy/vendor-policy.js';
export { azureDevops, bitbucketDatacenter, githubEnterprise, gitlab };

/** The built-in vendors, as accepted by `--vendor`. */
export const VENDOR_NAMES = ['gitlab', 'github_enterprise', 'azure_devops', 'bitbucket_datacenter'] as const;

/** The name of a built-in vendor. */
export type VendorName = (typeof VENDOR_NAMES)[number];

/** The built-in vendor definitions by name. */
export const VENDORS: Readonly<Record<VendorName, VendorDefinition>> = Object.freeze({
  gitlab,
  github_enterprise: githubEnterprise,
  azure_devops: azureDevops,
  bitbucket_datacenter: bitbucketDatacenter,
});

/** Whether `s` names a built-in vendor. */
export function isVendorName(s: unknown): s is VendorName {
  return typeof s === 'string' && (VENDOR_NAMES as readonly string[]).includes(s);
}

/**
 * Builds the request policy for a built-in vendor (by name) or a custom one
 * (a {@link VendorDefinition}, e.g. from `defineVendor()` or `--vendor-module`).
 * Everything is validated and compiled here; the returned policy's `evaluate()` checks the
 * canonical path first, never throws and denies whatever no rule allows.
 *
 * @throws InvalidOptionError (`allowed-projects`) for an invalid or too costly pattern.
 * @throws InvalidVendorError for a malformed vendor or extra rule.
 */
export function createVendorPolicy(vendor: VendorName | VendorDefinition, options: VendorPolicyOptions = {}): RequestPolicy {
  if (typeof vendor === 'string') {
    if (!isVendorName(vendor)) {
      throw new InvalidVendorError('vendor', `unknown vendor "${vendor}"; expected one of ${VENDOR_NAMES.join(', ')}`);
    }
    return createPolicyFromDefinition(VENDORS[vendor], options);
  }
  return createPolicyFromDefinition(vendor, options);
}
