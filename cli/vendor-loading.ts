/*
 * Loading user-supplied policy extensions for the agent's command line:
 * `--vendor-module PATH` (a defineVendor() module) and `--rules-file PATH` (extra rules).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { InvalidOptionError } from '../lib/errors.js';
import { compileRules } from '../lib/policy/rule-engine.js';
import { RULE_METHODS, type VendorDefinition, type VendorRule } from '../lib/vendors/index.js';

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts']);
const RULE_KEYS = new Set(['method', 'path', 'description', 'scope', 'graphql']);
/** Rules files are small; anything bigger is a mistake (or an attack on start-up time). */
const MAX_RULES_FILE_BYTES = 1024 * 1024;

async function existingFile(file: string, flag: string): Promise<string> {
  const absolute = path.resolve(file);
  let info;
  try {
    info = await stat(absolute);
  } catch (error) {
    throw new InvalidOptionError(flag, `--${flag} ${file}: file not found`, { cause: error });
  }
  if (!info.isFile()) throw new InvalidOptionError(flag, `--${flag} ${file}: not a regular file`);
  return absolute;
}

async function importModule(absolute: string, file: string): Promise<Record<string, unknown>> {
  const ext = path.extname(absolute);
  const url = pathToFileURL(absolute).href;
  if (ext === '.ts' || ext === '.mts') {
    // Node 20 cannot import TypeScript by itself; tsx's API can, when it is installed.
    let tsImport: ((specifier: string, parent: string) => Promise<Record<string, unknown>>) | undefined;
    try {
      ({ tsImport } = (await import('tsx/esm/api')) as unknown as { tsImport: typeof tsImport });
    } catch {
      tsImport = undefined;
    }
    if (tsImport === undefined) {
      throw new InvalidOptionError('vendor-module', `--vendor-module ${file}: loading TypeScript needs the "tsx" package (npm install tsx), or compile the module to .js`);
    }
    return tsImport(url, import.meta.url);
  }
  return (await import(url)) as Record<string, unknown>;
}

/**
 * Imports a vendor module (`.js`, `.mjs`, `.cjs`, or `.ts`/`.mts` when `tsx` is installed)
 * whose default export — or `vendor` export — is a vendor definition, usually made with
 * `defineVendor()`, and validates it.
 *
 * @throws InvalidOptionError (option `vendor-module`) when the file is missing, cannot be
 *   imported, exports no definition, or the definition is malformed.
 */
export async function loadVendorModule(file: string): Promise<VendorDefinition> {
  const ext = path.extname(file);
  if (!MODULE_EXTENSIONS.has(ext)) {
    throw new InvalidOptionError('vendor-module', `--vendor-module ${file}: expected a .js, .mjs, .cjs, .ts or .mts file`);
  }
  const absolute = await existingFile(file, 'vendor-module');
  let exported: Record<string, unknown>;
  try {
    exported = await importModule(absolute, file);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw error;
    throw new InvalidOptionError('vendor-module', `--vendor-module ${file}: could not be imported: ${(error as Error).message}`, { cause: error });
  }
  let candidate = exported.default ?? exported.vendor;
  // A CommonJS module's `module.exports = { default: … }` arrives one level deeper.
  if (typeof candidate === 'object' && candidate !== null && 'default' in candidate && !('rules' in candidate)) {
    candidate = (candidate as { default: unknown }).default;
  }
  if (typeof candidate !== 'object' || candidate === null || !('rules' in candidate)) {
    throw new InvalidOptionError(
      'vendor-module',
      `--vendor-module ${file}: must export a vendor definition (from defineVendor()) as its default export or as "vendor"`,
    );
  }
  const vendor = candidate as VendorDefinition;
  try {
    compileRules(vendor);
  } catch (error) {
    throw new InvalidOptionError('vendor-module', `--vendor-module ${file}: ${(error as Error).message}`, { cause: error });
  }
  return vendor;
}

/**
 * Reads extra rules from a JSON or YAML file: a list of `{ method, path, description, scope? }`
 * (or an object with such a `rules` list), each validated like a built-in rule.
 *
 * @throws InvalidOptionError (option `rules-file`) naming the entry index and field at fault.
 */
export async function loadRulesFile(file: string): Promise<VendorRule[]> {
  const absolute = await existingFile(file, 'rules-file');
  const fail = (message: string, cause?: unknown): never => {
    throw new InvalidOptionError('rules-file', `--rules-file ${file}: ${message}`, cause === undefined ? undefined : { cause });
  };
  const info = await stat(absolute);
  if (info.size > MAX_RULES_FILE_BYTES) fail(`larger than ${MAX_RULES_FILE_BYTES} bytes`);
  const text = await readFile(absolute, 'utf8');
  let document: unknown;
  try {
    document = path.extname(absolute) === '.json' ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 0 });
  } catch (error) {
    return fail(`is not valid ${path.extname(absolute) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`, error);
  }
  const list = Array.isArray(document) ? document : (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) return fail('expected a list of rules (or an object with a "rules" list)');

  const rules: VendorRule[] = list.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      return fail(`entry ${index}: expected an object with method, path and description`);
    }
    for (const key of Object.keys(entry)) {
      if (!RULE_KEYS.has(key)) fail(`entry ${index}: unknown field "${key}" (expected method, path, description, scope, graphql)`);
    }
    const { method, path: pattern, description, scope, graphql } = entry as Record<string, unknown>;
    for (const [field, value] of [['method', method], ['path', pattern], ['description', description]] as const) {
      if (typeof value !== 'string') fail(`entry ${index}: field "${field}" must be a string`);
    }
    if (!(RULE_METHODS as readonly string[]).includes(method as string)) {
      fail(`entry ${index}: field "method" must be one of ${RULE_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
    }
    const rule = { method, path: pattern, description, ...(scope === undefined ? {} : { scope }), ...(graphql === undefined ? {} : { graphql }) } as VendorRule;
    try {
      compileRules({ name: 'rules-file', rules: [rule] });
    } catch (error) {
      const field = ((error as { field?: string }).field ?? '').replace(/^rules\[0\]\.?/, '') || 'entry';
      const detail = (error as Error).message.replace(/^vendor "rules-file": rules\[0\]\.?\S*\s*/, '');
      fail(`entry ${index}: field "${field}" ${detail}`, error);
    }
    return rule;
  });
  return rules;
}
