import { defineVendor } from '../policy/define-vendor.js';
import { InvalidVendorError } from '../policy/invalid-vendor-error.js';
import { ruleKey, type ProjectRef, type RuleContext, type RuleParams, type VendorDefinition, type VendorRule } from '../policy/vendor-definition.js';

/**
 * Where a vendor serves a repository over git's smart HTTP protocol
 * (https://git-scm.com/docs/http-protocol): the URL prefix up to the repository, whose
 * parameter names all start with `git_` so they never meet the vendor's API parameters.
 */
export interface GitSmartHttpShape {
  /** Pattern of the repository URL, e.g. `/scm/:git_project/:git_repository`. */
  readonly repository: string;
  /** Patterns of the `git_` parameters (whole raw value; `*name` values are joined with `/`). */
  readonly params: Readonly<Record<string, string>>;
  /** The canonical `group/repository` a git URL is about; `undefined` denies. */
  readonly project: (params: RuleParams) => ProjectRef | undefined;
}

/** Description of the rule that lists refs (the first request of a clone or fetch). */
export const GIT_INFO_REFS_DESCRIPTION = 'Git clone and fetch: list refs (upload-pack)';
/** Description of the rule that transfers the pack. */
export const GIT_UPLOAD_PACK_DESCRIPTION = 'Git clone and fetch: negotiate and download the pack (upload-pack)';
/** Description of the rule that exists only to refuse pushes with a reason. */
export const GIT_RECEIVE_PACK_DESCRIPTION = 'Git push (receive-pack): always denied';

/** Why every push is refused. */
export const GIT_PUSH_DENIED = 'git push (git-receive-pack) is never allowed: the agent gives read-only git access';

/** The smart HTTP rules for a repository URL pattern (`/:git_owner/:git_repository`). */
export function gitSmartHttpRules(repository: string): VendorRule[] {
  return [
    { method: 'GET', path: `${repository}/info/refs`, description: GIT_INFO_REFS_DESCRIPTION },
    { method: 'POST', path: `${repository}/git-upload-pack`, description: GIT_UPLOAD_PACK_DESCRIPTION },
    // Matched only to give pushes a reason; check() denies every one.
    { method: 'POST', path: `${repository}/git-receive-pack`, description: GIT_RECEIVE_PACK_DESCRIPTION },
  ];
}

const UPLOAD_PACK_REQUEST = 'application/x-git-upload-pack-request';
/*
 * Git-Protocol (gitprotocol-http, "Protocol v2"): colon-separated `key[=value]` items,
 * `version=2` in practice. The server hands it to upload-pack as GIT_PROTOCOL.
 */
const GIT_PROTOCOL = /^[A-Za-z0-9._-]+(?:=[A-Za-z0-9._-]*)?(?::[A-Za-z0-9._-]+(?:=[A-Za-z0-9._-]*)?)*$/;

function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (String(raw[i]).toLowerCase() === name) out.push(String(raw[i + 1]));
  return out;
}

function checkGitProtocol(raw: readonly string[]): string | undefined {
  const values = headerValues(raw, 'git-protocol');
  if (values.length > 1) return 'a git request may carry one Git-Protocol header';
  if (values.length === 1 && !GIT_PROTOCOL.test((values[0] as string).trim())) return 'the Git-Protocol header is malformed';
  return undefined;
}

function checkInfoRefs(context: RuleContext): string | undefined {
  const entries = [...context.query];
  // Exactly `service=git-upload-pack`: a second parameter, a repeated `service` or another
  // spelling could be read differently by the server, so anything else is refused.
  const service = entries.length === 1 && entries[0]?.[0] === 'service' ? entries[0][1] : undefined;
  if (service === 'git-receive-pack') return GIT_PUSH_DENIED;
  if (service !== 'git-upload-pack') {
    return entries.length === 0
      ? 'git info/refs needs ?service=git-upload-pack (the dumb HTTP protocol is not supported)'
      : 'git info/refs takes exactly one query parameter, service=git-upload-pack';
  }
  if (context.hasBody === true) return 'a git info/refs request has no body';
  return checkGitProtocol(context.rawHeaders);
}

function checkUploadPack(context: RuleContext): string | undefined {
  if ([...context.query.keys()].length > 0) return 'git-upload-pack takes no query parameters';
  const types = headerValues(context.rawHeaders, 'content-type');
  if (types.length !== 1 || (types[0] as string).trim().toLowerCase() !== UPLOAD_PACK_REQUEST) {
    return `git-upload-pack requests must have Content-Type ${UPLOAD_PACK_REQUEST}`;
  }
  // Git gzips larger negotiation bodies (http.c, "Content-Encoding: gzip"); they pass through
  // untouched. Any other coding is not something git sends.
  const encodings = headerValues(context.rawHeaders, 'content-encoding');
  if (encodings.length > 1 || (encodings.length === 1 && !/^\s*(gzip|identity)\s*$/i.test(encodings[0] as string))) {
    return 'git-upload-pack request bodies may only be gzip-encoded';
  }
  return checkGitProtocol(context.rawHeaders);
}

/**
 * Adds read-only git smart HTTP to a vendor: `GET <repository>/info/refs?service=git-upload-pack`
 * and `POST <repository>/git-upload-pack` (protocol v0 and v2), checked against
 * allowed-projects like the API. Pushes (`git-receive-pack`, either request) are denied with a
 * reason. The base vendor's hooks keep deciding its own rules.
 *
 * @throws InvalidVendorError when a parameter of the shape does not start with `git_`.
 */
export function withGitSmartHttp(base: VendorDefinition, shape: GitSmartHttpShape): VendorDefinition {
  const names = shape.repository
    .split('/')
    .filter((part) => part.startsWith(':') || part.startsWith('*'))
    .map((part) => part.slice(1));
  for (const name of [...names, ...Object.keys(shape.params)]) {
    if (!name.startsWith('git_')) throw new InvalidVendorError('params', `vendor "${base.name}": git parameter "${name}" must start with "git_"`);
  }
  for (const name of Object.keys(base.params ?? {})) {
    if (name.startsWith('git_')) throw new InvalidVendorError('params', `vendor "${base.name}": "${name}" is reserved for git rules`);
  }
  const rules = gitSmartHttpRules(shape.repository);
  const [infoRefs, uploadPack, receivePack] = rules.map(ruleKey);
  const gitKeys: ReadonlySet<string> = new Set(rules.map(ruleKey));
  const isGit = (context: RuleContext): boolean => gitKeys.has(ruleKey(context.rule));
  const baseProject = base.project;
  const baseReferenced = base.referencedProjects;
  const baseCheck = base.check;
  const baseBody = base.body;
  const baseCollection = base.collection;
  return defineVendor({
    name: base.name,
    extends: base,
    rules,
    params: shape.params,
    // The hook sees only parameters: git rules are the ones that bind `git_` names.
    project: (params) => (names.length > 0 && names.every((name) => params[name] !== undefined) ? shape.project(params) : baseProject?.(params)),
    referencedProjects: (context) => (isGit(context) ? [] : (baseReferenced?.(context) ?? [])),
    // A packfile negotiation is not the vendor's API body (GitLab's JSON check would refuse it);
    // git rules check their own body shape in check().
    body: baseBody === undefined ? undefined : (context) => (isGit(context) ? undefined : baseBody(context)),
    // Git URLs name the collection as `git_collection`: it is held to allowed-collections too.
    collection: baseCollection === undefined ? undefined : (params) => params.git_collection ?? baseCollection(params),
    check(context) {
      if (!isGit(context)) return baseCheck?.(context);
      const key = ruleKey(context.rule);
      if (key === receivePack) return GIT_PUSH_DENIED;
      if (key === infoRefs) return checkInfoRefs(context);
      if (key === uploadPack) return checkUploadPack(context);
      return 'the git request could not be classified';
    },
  });
}

/** Strips the `.git` suffix git URLs carry (`app.git` → `app`); `undefined` without it. */
export function withoutGitSuffix(name: string | undefined): string | undefined {
  return name !== undefined && name.length > 4 && name.endsWith('.git') ? name.slice(0, -4) : undefined;
}
