import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium, the only browser the tests drive. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Skip message (and CI failure message) when chromium is missing. */
export const CHROMIUM_MISSING = 'chromium not installed: flock /tmp/apt.lock apt-get install -y chromium';

/**
 * Why a browser test must be skipped, or `undefined` when chromium is installed or under
 * CI=true (where {@link launchChromium} then fails instead of skipping).
 */
export function chromiumMissingReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH) || process.env.CI === 'true') return undefined;
  return CHROMIUM_MISSING;
}

/** A headless chromium with a fresh profile; `close()` removes the profile. */
export interface RunningChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts headless chromium through playwright-core with a fresh `--user-data-dir` (playwright
 * takes it as the persistent-context directory rather than as an argument). Traffic stays on
 * loopback: no background networking, updates, sync or QUIC.
 */
export async function launchChromium(): Promise<RunningChromium> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(CHROMIUM_MISSING);
  const userDataDir = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 20_000,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
