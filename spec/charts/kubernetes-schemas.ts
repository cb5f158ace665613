// Offline validation of rendered manifests, two ways:
// - the Kubernetes OpenAPI schemas as compiled into kubernetes-models (types,
//   required fields, enums, formats), which do not flag unknown fields;
// - the same package's TypeScript interfaces, type-checking each object as an
//   object literal, where excess-property checks catch unknown or misplaced
//   fields (a typo such as `livenesProbe` or a probe field at the wrong level).
import ts from 'typescript';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

export type Manifest = Record<string, unknown>;

/** Validates one object with the model for its kind; throws with the field at fault. */
export function validateKubernetesObject(object: Manifest): void {
  const key = `${String(object.apiVersion)}/${String(object.kind)}`;
  switch (key) {
    case 'apps/v1/Deployment':
      new Deployment(object as unknown as Deployment).validate();
      return;
    case 'networking.k8s.io/v1/NetworkPolicy':
      new NetworkPolicy(object as unknown as NetworkPolicy).validate();
      return;
    case 'policy/v1/PodDisruptionBudget':
      new PodDisruptionBudget(object as unknown as PodDisruptionBudget).validate();
      return;
    case 'v1/Secret':
      new Secret(object as unknown as Secret).validate();
      return;
    case 'v1/Service':
      new Service(object as unknown as Service).validate();
      return;
    case 'v1/ServiceAccount':
      new ServiceAccount(object as unknown as ServiceAccount).validate();
      return;
    default:
      throw new Error(`no schema for ${key} in this spec`);
  }
}

const interfaces: Readonly<Record<string, readonly [module: string, name: string]>> = {
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'ISecret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'IService'],
  'v1/ServiceAccount': ['kubernetes-models/v1/ServiceAccount', 'IServiceAccount'],
};

/**
 * Type-checks the objects against kubernetes-models' interfaces with the
 * TypeScript compiler (an in-memory source file, nothing written to disk).
 * Returns the diagnostics; empty means every field is known and well-typed.
 * TypeScript reports the first excess property of each literal, so a failure
 * names at least one field at fault.
 */
export function typeCheckKubernetesObjects(objects: readonly Manifest[]): string[] {
  // Lives next to this file so that 'kubernetes-models' resolves from the repository.
  const virtualFile = join(dirname(fileURLToPath(import.meta.url)), '__rendered-objects.ts');
  const lines: string[] = [];
  objects.forEach((object, index) => {
    const key = `${String(object.apiVersion)}/${String(object.kind)}`;
    const target = interfaces[key];
    if (target === undefined) throw new Error(`no interface for ${key} in this spec`);
    lines.push(`import type { ${target[1]} as T${index} } from '${target[0]}';`);
    lines.push(`export const o${index}: T${index} = ${JSON.stringify(object, null, 1)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) =>
    fileName === virtualFile
      ? ts.createSourceFile(fileName, source, languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  host.fileExists = (fileName) => fileName === virtualFile || fileExists(fileName);
  const program = ts.createProgram([virtualFile], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file !== undefined && d.start !== undefined
      ? `${d.file.fileName === virtualFile ? 'object' : d.file.fileName} line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `
      : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, ' ');
  });
}
