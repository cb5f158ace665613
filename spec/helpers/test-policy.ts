import type { PolicyDecision, PolicyRequest, RequestPolicy } from '../../lib/policy/request-policy.js';

/**
 * A policy for tunnel tests: allows paths under /allowed/ (any method) and denies the
 * rest, so specs of the tunnel do not depend on a vendor's rules.
 */
export const testPolicy: RequestPolicy = {
  name: 'test',
  evaluate(request: PolicyRequest): PolicyDecision {
    if (request.path.startsWith('/allowed/')) return { allow: true, description: 'Test route' };
    return { allow: false, reason: 'Not under /allowed/' };
  },
};
