import type { CanonicalTarget } from './canonical-path.js';
import { InvalidVendorError } from './invalid-vendor-error.js';
import { RULE_METHODS, ruleKey, type RuleScope, type VendorDefinition, type VendorRule } from './vendor-definition.js';

/** A request matched a rule: the rule and its path parameters. */
export interface RuleMatch {
  readonly rule: VendorRule;
  /** `"METHOD /pattern"`. */
  readonly key: string;
  readonly scope: RuleScope;
  /** Percent-decoded parameter values. */
  readonly params: Record<string, string>;
}

/** A vendor's rules, validated and indexed for matching. */
export interface CompiledRules {
  readonly vendor: VendorDefinition;
  /** Number of rules. */
  readonly size: number;
  /** The first rule (literal-only shapes before `*tail` ones) matching the method and path. */
  match(method: string, target: CanonicalTarget): RuleMatch | undefined;
}

type Segment = { readonly literal: string } | { readonly param: string; readonly pattern: RegExp | undefined };

interface CompiledRule {
  readonly rule: VendorRule;
  readonly key: string;
  readonly scope: RuleScope;
  readonly segments: readonly Segment[];
  readonly tail: { readonly param: string; readonly pattern: RegExp | undefined } | undefined;
  /** Fixed segments after a `*name` that is not the last segment (`/*repository/info/refs`). */
  readonly after: readonly Segment[];
}

interface MethodIndex {
  /** Rules without a tail, by number of segments. */
  readonly exact: Map<number, CompiledRule[]>;
  readonly tails: CompiledRule[];
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// Literal segments: RFC 3986 unreserved and sub-delims (no ';', no '%'), and never a dot segment.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,=@]+$/;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const SCOPES: ReadonlySet<string> = new Set(['project', 'global', 'cross-project']);
const METHODS: ReadonlySet<string> = new Set(RULE_METHODS);
export const MAX_DESCRIPTION_LENGTH = 200;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,127}$/;
export const MAX_GRAPHQL_QUERY_LENGTH = 32 * 1024;

function compileParamPatterns(vendor: VendorDefinition): Map<string, RegExp> {
  const out = new Map<string, RegExp>();
  if (vendor.params === undefined) return out;
  if (typeof vendor.params !== 'object' || vendor.params === null) {
    throw new InvalidVendorError('params', `vendor "${vendor.name}": params must be an object of regular-expression sources`);
  }
  for (const [name, source] of Object.entries(vendor.params)) {
    const field = `params.${name}`;
    if (!PARAM_NAME.test(name)) throw new InvalidVendorError(field, `vendor "${vendor.name}": "${name}" is not a valid parameter name`);
    if (typeof source !== 'string' || source === '') {
      throw new InvalidVendorError(field, `vendor "${vendor.name}": ${field} must be a non-empty regular-expression source`);
    }
    let regex: RegExp;
    try {
      // Vendor code, not user input: trusted like the rest of the module, and the value it
      // tests is bounded by MAX_TARGET_LENGTH.
      regex = new RegExp(`^(?:${source})$`);
    } catch (error) {
      throw new InvalidVendorError(field, `vendor "${vendor.name}": ${field} is not a usable regular expression: ${(error as Error).message}`, {
        cause: error,
      });
    }
    out.set(name, regex);
  }
  return out;
}

function compileRule(vendor: VendorDefinition, rule: VendorRule, index: number, patterns: Map<string, RegExp>, foldCase: boolean): CompiledRule {
  const at = `rules[${index}]`;
  const fail = (field: string, message: string): never => {
    throw new InvalidVendorError(`${at}.${field}`, `vendor "${vendor.name}": ${at}.${field} ${message}`);
  };
  if (typeof rule !== 'object' || rule === null) throw new InvalidVendorError(at, `vendor "${vendor.name}": ${at} must be an object`);
  if (typeof rule.method !== 'string' || !METHODS.has(rule.method)) {
    fail('method', `must be one of ${RULE_METHODS.join(', ')} (upper-case), got ${JSON.stringify(rule.method)}`);
  }
  if (typeof rule.description !== 'string' || rule.description.trim() === '') fail('description', 'must be a non-empty string');
  if (rule.description.length > MAX_DESCRIPTION_LENGTH || CONTROL.test(rule.description)) {
    fail('description', `must be at most ${MAX_DESCRIPTION_LENGTH} characters without control characters`);
  }
  const scope = rule.scope ?? 'project';
  if (!SCOPES.has(scope)) fail('scope', `must be "project", "global" or "cross-project", got ${JSON.stringify(rule.scope)}`);
  if (typeof rule.path !== 'string' || !rule.path.startsWith('/') || rule.path.length > 1024) {
    fail('path', 'must be a string starting with "/" (at most 1024 characters)');
  }
  const parts = rule.path.slice(1).split('/');
  const segments: Segment[] = [];
  const after: Segment[] = [];
  let tail: CompiledRule['tail'];
  const seen = new Set<string>();
  parts.forEach((part) => {
    if (part.startsWith(':') || part.startsWith('*')) {
      const name = part.slice(1);
      if (!PARAM_NAME.test(name)) fail('path', `has an invalid parameter "${part}" (expected :name or *name)`);
      if (seen.has(name)) fail('path', `repeats the parameter "${name}"`);
      seen.add(name);
      if (part.startsWith('*')) {
        // One multi-segment parameter per pattern: with two, how to split the segments
        // between them would be ambiguous.
        if (tail !== undefined) fail('path', `may hold only one *name parameter (found *${tail.param} and *${name})`);
        tail = { param: name, pattern: patterns.get(name) };
      } else {
        (tail === undefined ? segments : after).push({ param: name, pattern: patterns.get(name) });
      }
    } else {
      if (part === '' || part === '.' || part === '..' || !LITERAL.test(part)) {
        fail('path', `has an invalid literal segment ${JSON.stringify(part)} (no empty or dot segments, no ';', '%' or spaces)`);
      }
      (tail === undefined ? segments : after).push({ literal: foldCase ? part.toLowerCase() : part });
    }
  });
  // A pattern of parameters only (`/:a/*b`) would match nearly any path.
  if (![...segments, ...after].some((seg) => 'literal' in seg)) fail('path', 'must contain at least one literal segment');
  if (rule.graphql !== undefined) {
    if (rule.method !== 'POST') fail('method', 'must be POST for a rule with graphql operations');
    if (!Array.isArray(rule.graphql) || rule.graphql.length === 0) fail('graphql', 'must be a non-empty list of { operationName, query }');
    rule.graphql.forEach((operation, i) => {
      if (typeof operation !== 'object' || operation === null) fail(`graphql[${i}]`, 'must be an object with operationName and query');
      if (typeof operation.operationName !== 'string' || !GRAPHQL_NAME.test(operation.operationName)) {
        fail(`graphql[${i}].operationName`, 'must be a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)');
      }
      if (typeof operation.query !== 'string' || operation.query.trim() === '' || operation.query.length > MAX_GRAPHQL_QUERY_LENGTH) {
        fail(`graphql[${i}].query`, `must be the non-empty document text (at most ${MAX_GRAPHQL_QUERY_LENGTH} characters)`);
      }
    });
  }
  return { rule, key: ruleKey(rule), scope, segments, tail, after };
}

/** Matches `fixed` against the target's segments from `offset`; `false` on a mismatch. */
function matchFixed(
  fixed: readonly Segment[],
  offset: number,
  target: CanonicalTarget,
  foldCase: boolean,
  params: Record<string, string>,
): boolean {
  const raw = target.segments;
  for (let i = 0; i < fixed.length; i++) {
    const seg = fixed[i] as Segment;
    const value = raw[offset + i] as string;
    if ('literal' in seg) {
      if (seg.literal !== (foldCase ? value.toLowerCase() : value)) return false;
    } else {
      if (seg.pattern !== undefined && !seg.pattern.test(value)) return false;
      params[seg.param] = target.decodedSegments[offset + i] as string;
    }
  }
  return true;
}

function matchSegments(compiled: CompiledRule, target: CanonicalTarget, foldCase: boolean): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  const fixed = compiled.segments;
  if (!matchFixed(fixed, 0, target, foldCase, params)) return undefined;
  if (compiled.tail !== undefined) {
    // The *name parameter takes every segment between the fixed ones before and after it.
    const end = target.segments.length - compiled.after.length;
    if (!matchFixed(compiled.after, end, target, foldCase, params)) return undefined;
    const rest = target.segments.slice(fixed.length, end).join('/');
    if (compiled.tail.pattern !== undefined && !compiled.tail.pattern.test(rest)) return undefined;
    params[compiled.tail.param] = target.decodedSegments.slice(fixed.length, end).join('/');
  }
  return params;
}

/**
 * Validates a vendor definition and indexes its rules by method and shape, so matching a
 * request costs a map lookup plus a few string comparisons; every regular expression is
 * compiled here, none per request.
 *
 * @throws InvalidVendorError naming the field at fault (`name`, `rules[3].path`, `params.project`, …).
 */
export function compileRules(vendor: VendorDefinition): CompiledRules {
  if (typeof vendor !== 'object' || vendor === null) throw new InvalidVendorError('vendor', 'a vendor definition must be an object');
  if (typeof vendor.name !== 'string' || !NAME.test(vendor.name)) {
    throw new InvalidVendorError('name', `vendor name must be 1-64 lower-case letters, digits, "_" or "-", got ${JSON.stringify(vendor.name)}`);
  }
  if (!Array.isArray(vendor.rules)) throw new InvalidVendorError('rules', `vendor "${vendor.name}": rules must be an array`);
  for (const hook of ['project', 'referencedProjects', 'check'] as const) {
    if (vendor[hook] !== undefined && typeof vendor[hook] !== 'function') {
      throw new InvalidVendorError(hook, `vendor "${vendor.name}": ${hook} must be a function`);
    }
  }
  const patterns = compileParamPatterns(vendor);
  const foldCase = vendor.caseInsensitivePaths === true;
  const byMethod = new Map<string, MethodIndex>();
  const keys = new Set<string>();
  vendor.rules.forEach((rule, index) => {
    const compiled = compileRule(vendor, rule, index, patterns, foldCase);
    if (keys.has(compiled.key)) {
      throw new InvalidVendorError(`rules[${index}]`, `vendor "${vendor.name}": rules[${index}] repeats "${compiled.key}"`);
    }
    keys.add(compiled.key);
    let bucket = byMethod.get(rule.method);
    if (bucket === undefined) {
      bucket = { exact: new Map(), tails: [] };
      byMethod.set(rule.method, bucket);
    }
    if (compiled.tail === undefined) {
      const list = bucket.exact.get(compiled.segments.length) ?? [];
      list.push(compiled);
      bucket.exact.set(compiled.segments.length, list);
    } else {
      bucket.tails.push(compiled);
    }
  });

  return {
    vendor,
    size: vendor.rules.length,
    match(method: string, target: CanonicalTarget): RuleMatch | undefined {
      const bucket = byMethod.get(method);
      if (bucket === undefined) return undefined;
      const candidates = bucket.exact.get(target.segments.length);
      if (candidates !== undefined) {
        for (const compiled of candidates) {
          const params = matchSegments(compiled, target, foldCase);
          if (params !== undefined) return { rule: compiled.rule, key: compiled.key, scope: compiled.scope, params };
        }
      }
      for (const compiled of bucket.tails) {
        if (target.segments.length <= compiled.segments.length + compiled.after.length) continue;
        const params = matchSegments(compiled, target, foldCase);
        if (params !== undefined) return { rule: compiled.rule, key: compiled.key, scope: compiled.scope, params };
      }
      return undefined;
    },
  };
}
