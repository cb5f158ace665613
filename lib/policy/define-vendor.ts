import { InvalidVendorError } from './invalid-vendor-error.js';
import { compileRules } from './rule-engine.js';
import { validateVendorExtensions } from './vendor-policy.js';
import { ruleKey, type VendorDefinition, type VendorDefinitionInput } from './vendor-definition.js';

/**
 * Defines a vendor: a new one for another VCS, or an extension of an existing one
 * (`extends`), adding rules and dropping some of the base's (`without`). Hooks and parameter
 * patterns are inherited unless given; parameter patterns are merged. The result is validated
 * (same checks as `createVendorPolicy`) and frozen.
 *
 * @throws InvalidVendorError naming the field at fault.
 *
 * @example
 * const gitlabReadOnly = defineVendor({
 *   name: 'gitlab-read-only',
 *   extends: gitlab,
 *   without: ['POST /api/v4/projects/:project/hooks'],
 * });
 */
export function defineVendor(input: VendorDefinitionInput): VendorDefinition {
  if (typeof input !== 'object' || input === null) throw new InvalidVendorError('vendor', 'defineVendor() expects an object');
  const base = input.extends;
  if (base !== undefined && (typeof base !== 'object' || base === null || !Array.isArray(base.rules))) {
    throw new InvalidVendorError('extends', `vendor "${String(input.name)}": extends must be a vendor definition`);
  }
  if (input.rules !== undefined && !Array.isArray(input.rules)) {
    throw new InvalidVendorError('rules', `vendor "${String(input.name)}": rules must be an array`);
  }
  let baseRules = base?.rules ?? [];
  if (input.without !== undefined) {
    if (!Array.isArray(input.without)) throw new InvalidVendorError('without', `vendor "${String(input.name)}": without must be an array of "METHOD /path" keys`);
    const present = new Set(baseRules.map(ruleKey));
    input.without.forEach((key, i) => {
      if (!present.has(key)) {
        throw new InvalidVendorError(`without[${i}]`, `vendor "${String(input.name)}": without[${i}] names no rule of the base vendor: ${JSON.stringify(key)}`);
      }
    });
    const drop = new Set(input.without);
    baseRules = baseRules.filter((rule) => !drop.has(ruleKey(rule)));
  }
  const params = base?.params === undefined && input.params === undefined ? undefined : { ...base?.params, ...input.params };
  const definition: VendorDefinition = {
    name: input.name,
    rules: Object.freeze([...baseRules, ...(input.rules ?? [])].map((rule) => Object.freeze({ ...rule }))),
    ...(params === undefined ? {} : { params: Object.freeze(params) }),
    ...pick('caseInsensitivePaths', input.caseInsensitivePaths ?? base?.caseInsensitivePaths),
    ...pick('project', input.project ?? base?.project),
    ...pick('referencedProjects', input.referencedProjects ?? base?.referencedProjects),
    ...pick('check', input.check ?? base?.check),
    ...pick('body', input.body ?? base?.body),
    ...pick('collection', input.collection ?? base?.collection),
    ...pick('redirectTarget', input.redirectTarget ?? base?.redirectTarget),
  };
  compileRules(definition);
  validateVendorExtensions(definition);
  return Object.freeze(definition);
}

function pick<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
