// Chart checks that need no helm, for the gateway chart's specs: Helm's merge of --set
// values over values.yaml (to validate them with Ajv the way Helm does), and the
// `.Values.a.b` paths a chart's templates use against the leaves values.yaml defines.
import { Ajv, type ErrorObject } from 'ajv';
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRecord, lookup, readText, readYaml } from './tools.js';

type Values = Record<string, unknown>;

/** Helm's merge of --set values over the defaults (objects merged, the rest replaced). */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return structuredClone(over);
  const out: Values = structuredClone(base);
  for (const [key, value] of Object.entries(over)) out[key] = mergeValues(out[key], value);
  return out;
}

/** `{ 'a.b': 1 }` → `{ a: { b: 1 } }`, the way `--set a.b=1` nests. */
export function fromSetLine(set: Readonly<Record<string, unknown>>): Values {
  const out: Values = {};
  for (const [path, value] of Object.entries(set)) {
    const steps = path.split('.');
    let node = out;
    for (const step of steps.slice(0, -1)) {
      if (!isRecord(node[step])) node[step] = {};
      node = node[step] as Values;
    }
    node[steps[steps.length - 1] ?? ''] = value;
  }
  return out;
}

/** The chart's templates (and helpers, NOTES.txt), by file name. */
export function chartTemplates(chartDir: string): Map<string, string> {
  const dir = join(chartDir, 'templates');
  return new Map(readdirSync(dir).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f)).map((f) => [f, readText(join(dir, f))]));
}

/** Every `.Values.a.b` path the templates mention. */
export function templateValuePaths(templates: ReadonlyMap<string, string>): Set<string> {
  const paths = new Set<string>();
  for (const text of templates.values()) {
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) paths.add((match[1] ?? '').slice(1));
  }
  return paths;
}

/** Leaf paths of values.yaml; an empty map or list is a leaf (a free-form value). */
export function leafPaths(node: unknown, prefix: string[] = []): string[] {
  if (isRecord(node) && Object.keys(node).length > 0) {
    return Object.entries(node).flatMap(([key, value]) => leafPaths(value, [...prefix, key]));
  }
  return [prefix.join('.')];
}

/** Template files whose `if`/`range`/`with`/`define` openings and `end`s do not balance, or whose braces do not. */
export function unbalancedTemplates(templates: ReadonlyMap<string, string>): string[] {
  const bad: string[] = [];
  for (const [file, text] of templates) {
    const actions = [...text.matchAll(/\{\{-?\s*(\/\*)?\s*([a-z]+)?/g)].filter((m) => m[1] === undefined);
    const opens = actions.filter((m) => ['if', 'range', 'with', 'define', 'block'].includes(m[2] ?? '')).length;
    const ends = actions.filter((m) => m[2] === 'end').length;
    if (opens !== ends || text.split('{{').length !== text.split('}}').length) bad.push(file);
  }
  return bad;
}

/**
 * The options `vcs-gateway serve` declares (its own and the global ones), read from the
 * yargs builder in cli/gateway-main.ts.
 */
export function gatewayServeFlags(source: string): Set<string> {
  const serveBlock = /\.command\(\s*'serve'([\s\S]*?)\.command\(/.exec(source)?.[1] ?? '';
  const beforeCommands = source.slice(0, source.search(/\.command\(\s*'serve'/));
  const globalBlock = beforeCommands.slice(beforeCommands.lastIndexOf('yargs('));
  const names = (text: string): string[] => [...text.matchAll(/\.option\('([a-z][a-z0-9-]*)'/g)].map((m) => m[1] ?? '');
  return new Set([...names(serveBlock), ...names(globalBlock)]);
}

/** A chart as its file specs read it: templates, default values, schema, and the schema's verdict on values. */
export interface ChartFiles {
  readonly templates: Map<string, string>;
  readonly defaults: Values;
  readonly schema: unknown;
  /** The defaults with a `--set` line merged over them, as Helm merges it. */
  valuesWith(set: Readonly<Record<string, unknown>>): unknown;
  /** What values.schema.json says of `values` (Ajv, draft-07 as Helm validates): one line per error, none when valid. */
  errorsOf(values: unknown): string[];
}

export function loadChart(chartDir: string): ChartFiles {
  const defaults = readYaml(join(chartDir, 'values.yaml')) as Values;
  const schema: unknown = JSON.parse(readText(join(chartDir, 'values.schema.json')));
  const validate = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true }).compile(schema as object);
  return {
    templates: chartTemplates(chartDir),
    defaults,
    schema,
    valuesWith: (set) => mergeValues(defaults, fromSetLine(set)),
    errorsOf: (values) => {
      validate(values);
      return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message ?? ''}`);
    },
  };
}

/** The keys of `values` that a schema closed with `additionalProperties: false` does not describe. */
export function keysOutsideSchema(values: unknown, schema: unknown, path = ''): string[] {
  if (!isRecord(values) || lookup(schema, ['additionalProperties']) !== false) return [];
  const props = lookup(schema, ['properties']);
  return Object.entries(values).flatMap(([key, value]) => {
    const child = lookup(props, [key]);
    return child === undefined ? [`${path}${key}`] : keysOutsideSchema(value, child, `${path}${key}.`);
  });
}

/** What both charts' defaults must say of the container: non-root, read-only root, no capabilities, RuntimeDefault seccomp. */
export function expectRestrictedContainer(defaults: Values): void {
  const sc = defaults.securityContext;
  expect(lookup(sc, ['runAsNonRoot'])).to.equal(true);
  expect(lookup(sc, ['runAsUser'])).to.be.a('number').and.greaterThan(0);
  expect(lookup(sc, ['readOnlyRootFilesystem'])).to.equal(true);
  expect(lookup(sc, ['allowPrivilegeEscalation'])).to.equal(false);
  expect(lookup(sc, ['capabilities', 'drop'])).to.deep.equal(['ALL']);
  expect(lookup(sc, ['seccompProfile', 'type'])).to.equal('RuntimeDefault');
  expect(lookup(defaults, ['podSecurityContext', 'runAsNonRoot'])).to.equal(true);
}

/** `.Values` paths the templates use that values.yaml does not define. */
export function undefinedValueRefs(templates: ReadonlyMap<string, string>, defaults: Values): string[] {
  return [...templateValuePaths(templates)].filter((path) => lookup(defaults, path.split('.')) === undefined);
}

/** Leaves of values.yaml that no template uses (a leaf counts as used when it or a parent is referenced). */
export function unusedValues(templates: ReadonlyMap<string, string>, defaults: Values): string[] {
  const used = [...templateValuePaths(templates)];
  return leafPaths(defaults).filter((leaf) => !used.some((ref) => leaf === ref || leaf.startsWith(`${ref}.`)));
}
