/*
 * Runs the vendors' own client libraries against a local server and records the method and
 * target of every request they send, so the vendor rule tables are tested against what real
 * clients do rather than against what we believe they do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { Gitlab } from '@gitbeaker/rest';
import * as azdev from 'azure-devops-node-api';

export interface RecordedRequest {
  /** The client-library call that sent it, e.g. `repos.getContent`. */
  readonly operation: string;
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The request body as received (empty when none). */
  body: Buffer;
}

export interface Recording {
  readonly requests: RecordedRequest[];
  /** Operations whose call failed (the library rejected our fake answer), with the error. */
  readonly failures: Array<{ operation: string; error: string }>;
}

type Responder = (req: http.IncomingMessage) => { status?: number; body: unknown };

async function withServer(respond: Responder, run: (base: string, setOperation: (op: string) => void) => Promise<void>): Promise<RecordedRequest[]> {
  const requests: RecordedRequest[] = [];
  let operation = '(none)';
  const server = http.createServer((req, res) => {
    const recorded: RecordedRequest = { operation, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) };
    requests.push(recorded);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks);
      const { status = 200, body } = respond(req);
      const payload = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}`, (op) => {
      operation = op;
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return requests;
}

async function runOperations(
  operations: ReadonlyArray<readonly [string, () => Promise<unknown>]>,
  setOperation: (op: string) => void,
  failures: Recording['failures'],
): Promise<void> {
  for (const [name, call] of operations) {
    setOperation(name);
    try {
      await call();
    } catch (error) {
      failures.push({ operation: name, error: (error as Error).message });
    }
  }
}

const SHA = '0123456789abcdef0123456789abcdef01234567';

/** @octokit/rest against a GitHub Enterprise Server base URL (`/api/v3`). */
export async function recordOctokit(): Promise<Recording> {
  const failures: Recording['failures'] = [];
  const requests = await withServer(
    () => ({ body: {} }),
    async (base, setOperation) => {
      const octokit = new Octokit({ baseUrl: `${base}/api/v3`, auth: 'ghp_test', request: { retries: 0 } });
      const repo = { owner: 'acme', repo: 'infra' };
      await runOperations(
        [
          ['users.getAuthenticated', () => octokit.rest.users.getAuthenticated()],
          ['repos.listForAuthenticatedUser', () => octokit.rest.repos.listForAuthenticatedUser()],
          ['repos.get', () => octokit.rest.repos.get(repo)],
          ['repos.listBranches', () => octokit.rest.repos.listBranches(repo)],
          ['repos.getBranch', () => octokit.rest.repos.getBranch({ ...repo, branch: 'feature/x' })],
          ['repos.listTags', () => octokit.rest.repos.listTags(repo)],
          ['git.getRef', () => octokit.rest.git.getRef({ ...repo, ref: 'heads/feature/x' })],
          ['repos.listCommits', () => octokit.rest.repos.listCommits({ ...repo, sha: 'main', path: 'stacks/prod' })],
          ['repos.getCommit', () => octokit.rest.repos.getCommit({ ...repo, ref: SHA })],
          ['repos.compareCommitsWithBasehead', () => octokit.rest.repos.compareCommitsWithBasehead({ ...repo, basehead: 'main...feature' })],
          ['repos.getContent', () => octokit.rest.repos.getContent({ ...repo, path: 'stacks/prod/main.tf', ref: 'main' })],
          ['repos.getContent (root)', () => octokit.rest.repos.getContent({ ...repo, path: '' })],
          ['git.getTree', () => octokit.rest.git.getTree({ ...repo, tree_sha: SHA, recursive: 'true' })],
          ['git.getBlob', () => octokit.rest.git.getBlob({ ...repo, file_sha: SHA })],
          ['repos.downloadTarballArchive', () => octokit.rest.repos.downloadTarballArchive({ ...repo, ref: 'main' })],
          ['repos.downloadZipballArchive', () => octokit.rest.repos.downloadZipballArchive({ ...repo, ref: 'main' })],
          ['pulls.list', () => octokit.rest.pulls.list({ ...repo, state: 'open' })],
          ['pulls.get', () => octokit.rest.pulls.get({ ...repo, pull_number: 7 })],
          ['pulls.listCommits', () => octokit.rest.pulls.listCommits({ ...repo, pull_number: 7 })],
          ['pulls.listFiles', () => octokit.rest.pulls.listFiles({ ...repo, pull_number: 7 })],
          ['issues.listComments', () => octokit.rest.issues.listComments({ ...repo, issue_number: 7 })],
          ['issues.createComment', () => octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: 'plan ok' })],
          ['issues.updateComment', () => octokit.rest.issues.updateComment({ ...repo, comment_id: 42, body: 'plan ok' })],
          ['repos.createCommitStatus', () => octokit.rest.repos.createCommitStatus({ ...repo, sha: SHA, state: 'success' })],
          ['repos.listCommitStatusesForRef', () => octokit.rest.repos.listCommitStatusesForRef({ ...repo, ref: SHA })],
          ['repos.getCombinedStatusForRef', () => octokit.rest.repos.getCombinedStatusForRef({ ...repo, ref: SHA })],
          ['checks.create', () => octokit.rest.checks.create({ ...repo, name: 'plan', head_sha: SHA })],
          ['checks.update', () => octokit.rest.checks.update({ ...repo, check_run_id: 5, status: 'completed', conclusion: 'success' })],
          ['checks.listForRef', () => octokit.rest.checks.listForRef({ ...repo, ref: SHA })],
          ['repos.listWebhooks', () => octokit.rest.repos.listWebhooks(repo)],
          ['repos.createWebhook', () => octokit.rest.repos.createWebhook({ ...repo, config: { url: 'https://example.test/hook' } })],
          ['repos.updateWebhook', () => octokit.rest.repos.updateWebhook({ ...repo, hook_id: 9, active: true })],
          ['repos.deleteWebhook', () => octokit.rest.repos.deleteWebhook({ ...repo, hook_id: 9 })],
        ],
        setOperation,
        failures,
      );
    },
  );
  return { requests, failures };
}

/** @gitbeaker/rest against a GitLab base URL (`/api/v4`). */
export async function recordGitbeaker(): Promise<Recording> {
  const failures: Recording['failures'] = [];
  const requests = await withServer(
    (req) => ({ body: req.url?.includes('/hooks') || req.url?.includes('/notes') || req.url?.includes('/statuses') ? { id: 1 } : [] }),
    async (base, setOperation) => {
      const api = new Gitlab({ host: base, token: 'glpat-test' });
      const project = 'acme/platform/infra';
      const sha = SHA;
      // gitbeaker's generics are too deep for a short call list; the calls are typed loosely.
      const g = api as unknown as Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;
      const call = (resource: string, method: string, ...args: unknown[]) => () => (g[resource] as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
      await runOperations(
        [
          ['Users.showCurrentUser', call('Users', 'showCurrentUser')],
          ['Projects.all', call('Projects', 'all', { membership: true, maxPages: 1 })],
          ['Projects.show', call('Projects', 'show', project)],
          ['Projects.show (id)', call('Projects', 'show', 42)],
          ['Branches.all', call('Branches', 'all', project, { maxPages: 1 })],
          ['Branches.show', call('Branches', 'show', project, 'feature/x')],
          ['Tags.all', call('Tags', 'all', project, { maxPages: 1 })],
          ['Tags.show', call('Tags', 'show', project, 'v1.0.0')],
          ['Commits.all', call('Commits', 'all', project, { refName: 'main', path: 'stacks/prod', maxPages: 1 })],
          ['Commits.show', call('Commits', 'show', project, sha)],
          ['Repositories.compare', call('Repositories', 'compare', project, 'main', 'feature/x')],
          ['Repositories.allRepositoryTrees', call('Repositories', 'allRepositoryTrees', project, { recursive: true, ref: 'main', maxPages: 1 })],
          ['RepositoryFiles.show', call('RepositoryFiles', 'show', project, 'stacks/prod/main.tf', 'main')],
          ['RepositoryFiles.showRaw', call('RepositoryFiles', 'showRaw', project, 'stacks/prod/main.tf', 'main')],
          ['Repositories.showBlobRaw', call('Repositories', 'showBlobRaw', project, sha)],
          ['Repositories.showArchive', call('Repositories', 'showArchive', project, { fileType: 'tar.gz', sha: 'main' })],
          ['Repositories.showArchive (zip)', call('Repositories', 'showArchive', project, { fileType: 'zip', sha: 'main' })],
          ['MergeRequests.all', call('MergeRequests', 'all', { projectId: project, state: 'opened', maxPages: 1 })],
          ['MergeRequests.show', call('MergeRequests', 'show', project, 7)],
          ['MergeRequests.allCommits', call('MergeRequests', 'allCommits', project, 7, { maxPages: 1 })],
          ['MergeRequests.showChanges', call('MergeRequests', 'showChanges', project, 7)],
          ['MergeRequests.allDiffs', call('MergeRequests', 'allDiffs', project, 7, { maxPages: 1 })],
          ['MergeRequestNotes.all', call('MergeRequestNotes', 'all', project, 7, { maxPages: 1 })],
          ['MergeRequestNotes.create', call('MergeRequestNotes', 'create', project, 7, 'plan ok')],
          ['MergeRequestNotes.edit', call('MergeRequestNotes', 'edit', project, 7, 3, { body: 'plan ok' })],
          ['Commits.allStatuses', call('Commits', 'allStatuses', project, sha, { maxPages: 1 })],
          ['Commits.editStatus', call('Commits', 'editStatus', project, sha, 'success', { name: 'plan' })],
          ['ProjectHooks.all', call('ProjectHooks', 'all', project, { maxPages: 1 })],
          ['ProjectHooks.add', call('ProjectHooks', 'add', project, 'https://example.test/hook')],
          ['ProjectHooks.edit', call('ProjectHooks', 'edit', project, 9, 'https://example.test/hook')],
          ['ProjectHooks.remove', call('ProjectHooks', 'remove', project, 9)],
        ],
        setOperation,
        failures,
      );
    },
  );
  return { requests, failures };
}

/*
 * azure-devops-node-api discovers routes at run time: `OPTIONS /{collection}/_apis/{area}`
 * returns resource locations (id → route template). The templates below follow the documented
 * Azure DevOps Server REST URLs; the location ids are the ones the library itself uses.
 */
const AZURE_LOCATIONS: Record<string, Array<{ id: string; resourceName: string; routeTemplate: string }>> = {
  git: [
    { id: '225f7195-f9c7-4d14-ab28-a83f7ff77e1f', resourceName: 'repositories', routeTemplate: '{project}/_apis/{area}/{resource}/{repositoryId}' },
    { id: '2d874a60-a811-4f62-9c9f-963a6ea0a55b', resourceName: 'refs', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*filter}' },
    { id: 'd5b216de-d8d5-4d32-ae76-51df755b16d3', resourceName: 'branches', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/stats/{resource}' },
    { id: 'c2570c3b-5b3f-41b8-98bf-5407bfde8d58', resourceName: 'commits', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{commitId}' },
    { id: '615588d5-c0c7-4b88-88f8-e625306446e8', resourceName: 'diffs', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/commits' },
    { id: 'fb93c0db-47ed-4a31-8c20-47552878fb44', resourceName: 'items', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*path}' },
    { id: '729f6437-6f92-44ec-8bee-273a7111063c', resourceName: 'trees', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{sha1}' },
    { id: '7b28e929-2c99-405d-9c5c-6167a06e6816', resourceName: 'blobs', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{sha1}' },
    { id: '9946fd70-0d40-406e-b686-b4744cbbcc37', resourceName: 'pullRequests', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{pullRequestId}' },
    { id: '52823034-34a8-4576-922c-8d8b77e9e4c4', resourceName: 'commits', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/{resource}' },
    { id: 'd43911ee-6958-46b0-a42b-8445b8a0d004', resourceName: 'iterations', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/{resource}/{iterationId}' },
    { id: '4216bdcf-b6b1-4d59-8b82-c34cc183fc8b', resourceName: 'changes', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/iterations/{iterationId}/{resource}' },
    { id: 'ab6e2e5d-a0b7-4153-b64a-a4efe0d49449', resourceName: 'threads', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/{resource}/{threadId}' },
    { id: '965a3ec7-5ed8-455a-bdcb-835a5ea7fe7b', resourceName: 'comments', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/threads/{threadId}/{resource}/{commentId}' },
    { id: '428dd4fb-fda5-4722-af02-9313b80305da', resourceName: 'statuses', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/commits/{commitId}/{resource}' },
    { id: 'b5f6bb4f-8d1e-4d79-8d11-4c9172c99c35', resourceName: 'statuses', routeTemplate: '{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/{resource}/{statusId}' },
  ],
  location: [{ id: 'e81700f7-3be2-46de-8624-2eb35882fcaa', resourceName: 'ResourceAreas', routeTemplate: '_apis/{resource}/{areaId}' }],
  core: [{ id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', resourceName: 'projects', routeTemplate: '_apis/{resource}/{*projectId}' }],
};

function azureAnswer(req: http.IncomingMessage): { status?: number; body: unknown } {
  if (req.method === 'OPTIONS') {
    const area = (req.url ?? '').split('?')[0]!.split('/').pop()!.toLowerCase();
    const value = (AZURE_LOCATIONS[area] ?? []).map((l) => ({
      ...l,
      area,
      resourceVersion: 1,
      minVersion: '1.0',
      maxVersion: '7.1',
      releasedVersion: '7.1',
    }));
    return { body: { count: value.length, value } };
  }
  // What an on-premises server answers: no resource areas, so every API uses the collection URL.
  if ((req.url ?? '').includes('/ResourceAreas')) return { body: { count: 0, value: null } };
  if ((req.url ?? '').includes('connectionData')) return { body: { authenticatedUser: { id: 'u1' }, authorizedUser: { id: 'u1' } } };
  return { body: { count: 0, value: [] } };
}

/** azure-devops-node-api against an Azure DevOps Server collection URL. */
export async function recordAzureDevOps(): Promise<Recording> {
  const failures: Recording['failures'] = [];
  const requests = await withServer(azureAnswer, async (base, setOperation) => {
    const connection = new azdev.WebApi(`${base}/DefaultCollection`, azdev.getPersonalAccessTokenHandler('pat-test'));
    setOperation('WebApi.getGitApi');
    const git = await connection.getGitApi();
    setOperation('WebApi.getCoreApi');
    const core = await connection.getCoreApi();
    const project = 'Platform Team';
    const repo = 'infra';
    const pr = 7;
    await runOperations(
      [
        ['WebApi.connect', () => connection.connect()],
        ['CoreApi.getProjects', () => core.getProjects()],
        ['GitApi.getRepositories', () => git.getRepositories(project)],
        ['GitApi.getRepository', () => git.getRepository(repo, project)],
        ['GitApi.getRefs', () => git.getRefs(repo, project, 'heads/')],
        ['GitApi.getBranches', () => git.getBranches(repo, project)],
        ['GitApi.getCommits', () => git.getCommits(repo, { itemVersion: { version: 'main' }, $top: 10 }, project)],
        ['GitApi.getCommit', () => git.getCommit(SHA, repo, project)],
        [
          'GitApi.getCommitDiffs',
          () => git.getCommitDiffs(repo, project, true, 100, 0, { baseVersion: 'main' }, { targetVersion: 'feature/x' }),
        ],
        ['GitApi.getItem', () => git.getItem(repo, '/stacks/prod/main.tf', project)],
        ['GitApi.getItemContent', () => git.getItemContent(repo, '/stacks/prod/main.tf', project)],
        ['GitApi.getItemZip', () => git.getItemZip(repo, '/', project)],
        ['GitApi.getTree', () => git.getTree(repo, SHA, project, undefined, true)],
        ['GitApi.getBlob', () => git.getBlob(repo, SHA, project)],
        ['GitApi.getPullRequests', () => git.getPullRequests(repo, { status: 1 }, project)],
        ['GitApi.getPullRequest', () => git.getPullRequest(repo, pr, project)],
        ['GitApi.getPullRequestCommits', () => git.getPullRequestCommits(repo, pr, project)],
        ['GitApi.getPullRequestIterations', () => git.getPullRequestIterations(repo, pr, project)],
        ['GitApi.getPullRequestIterationChanges', () => git.getPullRequestIterationChanges(repo, pr, 2, project)],
        ['GitApi.getThreads', () => git.getThreads(repo, pr, project)],
        ['GitApi.createThread', () => git.createThread({ comments: [{ content: 'plan ok' }] }, repo, pr, project)],
        ['GitApi.createComment', () => git.createComment({ content: 'plan ok' }, repo, pr, 3, project)],
        ['GitApi.updateComment', () => git.updateComment({ content: 'plan ok' }, repo, pr, 3, 4, project)],
        ['GitApi.createCommitStatus', () => git.createCommitStatus({ state: 2, context: { name: 'plan' } }, SHA, repo, project)],
        ['GitApi.getStatuses', () => git.getStatuses(SHA, repo, project)],
        ['GitApi.createPullRequestStatus', () => git.createPullRequestStatus({ state: 2 }, repo, pr, project)],
        ['GitApi.getPullRequestStatuses', () => git.getPullRequestStatuses(repo, pr, project)],
      ],
      setOperation,
      failures,
    );
  });
  return { requests, failures };
}
