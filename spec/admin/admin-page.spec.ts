import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';
import { decodePoolToken } from '../../lib/protocol/token.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';
import { chromiumMissingReason, launchChromium, type RunningChromium } from '../helpers/chromium.js';
import { nextEvent } from '../helpers/wait-for.js';
import { ADMIN_TOKEN, startAdminHarness, type AdminHarness } from './admin-harness.js';

const IMAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'images');
/**
 * Screenshots are always taken (into a temporary directory) and copied into docs/images only
 * when missing there or with VCS_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
 */
async function publishScreenshot(file: string): Promise<void> {
  const target = join(IMAGES, file.split('/').pop() as string);
  const exists = await stat(target).then(() => true, () => false);
  if (!exists || process.env.VCS_UPDATE_SCREENSHOTS === '1') {
    await mkdir(IMAGES, { recursive: true });
    await copyFile(file, target);
  }
}
const missing = chromiumMissingReason();

/**
 * Bounded wait until `selector` (optionally with text matching `hasText`) is in the page
 * (the page refreshes itself every 1.5-3 s). Locators, not string predicates: the page's
 * Content-Security-Policy forbids eval, and that policy is part of what is tested.
 */
async function waitInPage(page: Page, what: string, selector: string, hasText?: RegExp | string, state: 'attached' | 'detached' = 'attached'): Promise<void> {
  try {
    await page.locator(selector, hasText === undefined ? {} : { hasText }).first().waitFor({ state, timeout: 10_000 });
  } catch (error) {
    throw new Error(`The page did not show ${what} within 10 s: ${(error as Error).message.split('\n')[0]}`);
  }
}

async function tableRows(page: Page, table: string): Promise<string[][]> {
  const rows = page.locator(`${table} tbody tr`);
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) out.push(await rows.nth(i).locator('td').allTextContents());
  return out;
}

describe(`admin web page in headless Chromium${missing === undefined ? '' : ` (skipped: ${missing})`}`, function () {
  this.timeout(45_000);
  let h: AdminHarness;
  let browser: RunningChromium | undefined;
  let agent: TunnelClient | undefined;

  before(async function () {
    if (missing !== undefined) this.skip();
    browser = await launchChromium();
  });

  beforeEach(async () => {
    h = await startAdminHarness({ poolName: 'ci-runners', client: { metadata: { site: 'berlin' }, agentId: 'runner-host-1' } });
    await h.store.update({ ...(await h.store.get('ci-runners'))!, description: 'Build runners in the Berlin office' });
  });

  afterEach(async () => {
    agent?.destroy();
    agent = undefined;
    await h?.close();
  });

  after(async () => {
    await browser?.close();
  });

  it('signs in, creates a pool (token downloaded), shows its agent connecting and its requests in the access log', async () => {
    const page = await (browser as RunningChromium).context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    // Sign in with the admin token.
    await page.goto(`${h.adminUrl}/`);
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#sign-in-form button[type=submit]').click();
    await waitInPage(page, 'the existing pool with its one connection', '#pools-table tr[data-pool="ci-runners"] .count', /^1$/);

    // A bad name is refused with the field named, nothing downloaded.
    await page.locator('#create-name').evaluate((input) => (input as unknown as { removeAttribute(name: string): void }).removeAttribute('pattern'));
    await page.locator('#create-name').fill('Bad_Name');
    await page.locator('#create-form button[type=submit]').click();
    await waitInPage(page, 'the name error', '#create-error', /^name: /);

    // Create a pool: the token comes as a file download, shown only once.
    await page.locator('#create-name').fill('gitlab-eu');
    await page.locator('#create-description').fill('GitLab in the Frankfurt data centre');
    const downloading = page.waitForEvent('download', { timeout: 10_000 });
    await page.locator('#create-form button[type=submit]').click();
    const download = await downloading;
    expect(download.suggestedFilename()).to.equal('gitlab-eu.token');
    const token = (await readFile(await download.path(), 'utf8')).trim();
    const pool = await h.store.get('gitlab-eu');
    expect(decodePoolToken(token).pool_ulid).to.equal(pool?.id);
    await waitInPage(page, 'the new pool with no connection', '#pools-table tr[data-pool="gitlab-eu"] .count', /^0$/);
    expect(await page.locator('#create-result').textContent()).to.include('gitlab-eu.token');

    // An agent configured with the downloaded token connects: its count goes to 1.
    agent = new TunnelClient({
      token,
      target: h.vcsUrl,
      policy: createVendorPolicy('gitlab'),
      parallelism: 3,
      // One connection: the page counts connections, and this spec counts one.
      gatewayConnections: 1,
      agentId: 'gitlab-agent-fra-1',
      metadata: { region: 'eu-central', env: 'production' },
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    await agent.start();
    await waitInPage(page, 'the agent connection in the pools list', '#pools-table tr[data-pool="gitlab-eu"] .count', /^1$/);
    const shots = await mkdtemp(join(tmpdir(), 'screenshots-'));
    await page.screenshot({ path: join(shots, 'gateway-pools.png'), fullPage: true });
    expect((await stat(join(shots, 'gateway-pools.png'))).size).to.be.greaterThan(10_000);
    await publishScreenshot(join(shots, 'gateway-pools.png'));

    // The pool's page lists the connection with its tags.
    await page.locator('#pools-table tr[data-pool="gitlab-eu"] a').click();
    await page.waitForURL(`${h.adminUrl}/pools/gitlab-eu`, { timeout: 10_000 });
    await waitInPage(page, 'the connection', '#connections-table tbody tr', 'gitlab-agent-fra-1');
    expect(await page.locator('#connections-table tbody tr .chip').allTextContents()).to.deep.equal(['env=production', 'region=eu-central']);
    const connection = (await tableRows(page, '#connections-table'))[0] ?? [];
    expect([connection[0], connection[3], connection[7]]).to.deep.equal(['gitlab-agent-fra-1', 'gitlab', '0']);
    expect(connection[1]).to.match(/^127\.0\.0\.1:\d+$/);
    expect(connection[6]).to.equal('0 / 3');
    expect(await page.locator('#pool-description').textContent()).to.equal('GitLab in the Frankfurt data centre');

    // Requests appear in the access log, newest first, while the page refreshes itself.
    const allowed = nextEvent<AccessLogRecord>(h.gateway, 'access', 5000);
    const response = await h.gateway.request('private://gitlab-eu/api/v4/projects?private_token=NEVER-SHOWN');
    response.body.resume();
    const allowedRecord = await allowed;
    await waitInPage(page, 'the allowed request in the access log', `#access-table tr[data-request-id="${allowedRecord.requestId}"]`);
    const denied = nextEvent<AccessLogRecord>(h.gateway, 'access', 5000);
    (await h.gateway.request('private://gitlab-eu/api/v4/admin/users')).body.resume();
    const deniedRecord = await denied;
    await waitInPage(page, 'the denied request at the top of the access log', `#access-table tbody tr:first-child[data-request-id="${deniedRecord.requestId}"]`);
    const rows = await tableRows(page, '#access-table');
    expect(rows).to.have.length(2);
    expect(rows[0]?.slice(1, 5)).to.deep.equal(['GET', '/api/v4/admin/users', '403', 'deny']);
    expect([rows[1]?.[1], rows[1]?.[3], rows[1]?.[4]]).to.deep.equal(['GET', '200', 'allow']);
    expect(rows[1]?.[2]).to.match(/^\/api\/v4\/projects\?private_token=/).and.not.include('NEVER-SHOWN');
    expect(rows[1]?.[7]).to.equal('gitlab-agent-fra-1');

    // Filtering: only denials, then a malformed status is explained.
    await page.locator('#filter-decision').selectOption('deny');
    await waitInPage(page, 'no allowed request', `#access-table tr[data-request-id="${allowedRecord.requestId}"]`, undefined, 'detached');
    expect((await tableRows(page, '#access-table')).map((row) => row[4])).to.deep.equal(['deny']);
    await page.locator('#filter-decision').selectOption('');
    await page.locator('#filter-status').fill('2xx');
    await page.locator('#filter-status').dispatchEvent('change');
    await waitInPage(page, 'no denied request', `#access-table tr[data-request-id="${deniedRecord.requestId}"]`, undefined, 'detached');
    expect((await tableRows(page, '#access-table')).map((row) => row[4])).to.deep.equal(['allow']);
    await page.locator('#filter-status').fill('2xy');
    await page.locator('#filter-status').dispatchEvent('change');
    await waitInPage(page, 'the status filter error', '#filter-error', /status/);
    await page.locator('#filter-status').fill('');
    await page.locator('#filter-status').dispatchEvent('change');
    await waitInPage(page, 'both requests again', '#access-table tbody tr:nth-child(2)');
    await waitInPage(page, 'the filter error to clear', '#filter-error', /status/, 'detached');
    await page.screenshot({ path: join(shots, 'gateway-pool.png'), fullPage: true });
    await publishScreenshot(join(shots, 'gateway-pool.png'));

    // Manage: edit the description, rotate the key with no grace (token downloaded, the agent
    // on the old key is disconnected), then delete the pool.
    await page.locator('#describe-input').fill('GitLab, FRA-2');
    await page.locator('#describe-form button[type=submit]').click();
    await waitInPage(page, 'the new description', '#pool-description', /^GitLab, FRA-2$/);
    expect((await h.store.get('gitlab-eu'))?.description).to.equal('GitLab, FRA-2');
    await page.locator('#rotate-grace').selectOption('0');
    const rotating = page.waitForEvent('download', { timeout: 10_000 });
    const evicted = nextEvent<{ reason: string }>(h.gateway, 'agent-evicted', 10_000);
    await page.locator('#rotate-form button[type=submit]').click();
    const rotatedDownload = await rotating;
    expect(rotatedDownload.suggestedFilename()).to.equal('gitlab-eu.token');
    const rotatedToken = decodePoolToken((await readFile(await rotatedDownload.path(), 'utf8')).trim());
    expect(rotatedToken.key).to.not.equal(decodePoolToken(token).key);
    expect((await evicted).reason).to.equal('key_expired');
    await waitInPage(page, 'key generation 2', '#pool-key', /^2/);
    await waitInPage(page, 'no connection left', '#connections-empty:not([hidden])');
    page.once('dialog', (dialog) => {
      void dialog.accept();
    });
    await page.locator('#delete-button').click();
    await page.waitForURL(`${h.adminUrl}/`, { timeout: 10_000 });
    await waitInPage(page, 'the remaining pool', '#pools-table tr[data-pool="ci-runners"]');
    expect(await page.locator('#pools-table tr[data-pool="gitlab-eu"]').count()).to.equal(0);
    expect(await h.store.get('gitlab-eu')).to.equal(undefined);

    // The page itself never holds the token in a cookie or the URL, and raised no script error.
    expect(await page.context().cookies()).to.deep.equal([]);
    expect(page.url()).to.not.include(ADMIN_TOKEN);
    expect(pageErrors.filter((text) => !text.includes('status of 400'))).to.deep.equal([]);
    await page.close();
  });
});
