// Loaded by spawned agents with --vendor-module: the fault VCS's paths, nothing else.
import { defineVendor } from '../../../lib/policy/define-vendor.js';

export default defineVendor({
  name: 'faults',
  rules: [
    { method: 'GET', path: '/allowed/*rest', description: 'Fault VCS download', scope: 'global' },
    { method: 'POST', path: '/allowed/*rest', description: 'Fault VCS upload', scope: 'global' },
    { method: 'PUT', path: '/allowed/*rest', description: 'Fault VCS upload', scope: 'global' },
  ],
});
