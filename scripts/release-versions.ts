// One version for a release: package.json, the charts' appVersion (and their own
// version, released together: charts/vcs-agent and charts/vcs-gateway), the agent's AGENT_VERSION (sent to the gateway)
// and the newest CHANGELOG.md entry must agree. Exits 1 naming the one that
// does not. Used by `npm run release:dry`, the release workflow and the specs.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { AGENT_VERSION } from '../lib/agent/tunnel-client.js';
import { repoRoot } from './kubernetes-tools.js';

export interface ReleaseVersions {
  readonly 'package.json version': string;
  readonly 'charts/vcs-agent/Chart.yaml version': string;
  readonly 'charts/vcs-agent/Chart.yaml appVersion': string;
  readonly 'charts/vcs-gateway/Chart.yaml version': string;
  readonly 'charts/vcs-gateway/Chart.yaml appVersion': string;
  readonly 'lib AGENT_VERSION': string;
  readonly 'CHANGELOG.md newest release': string;
}

export function releaseVersions(): ReleaseVersions {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const chartOf = (name: string): { version: string; appVersion: string } =>
    parseYaml(readFileSync(join(repoRoot, 'charts', name, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
  const chart = chartOf('vcs-agent');
  const gatewayChart = chartOf('vcs-gateway');
  // The first "## [x.y.z]" heading (Keep a Changelog); "## [Unreleased]" is skipped.
  const changelog = /^## \[(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\]/m.exec(readFileSync(join(repoRoot, 'CHANGELOG.md'), 'utf8'))?.[1] ?? '(none)';
  return {
    'package.json version': pkg.version,
    'charts/vcs-agent/Chart.yaml version': String(chart.version),
    'charts/vcs-agent/Chart.yaml appVersion': String(chart.appVersion),
    'charts/vcs-gateway/Chart.yaml version': String(gatewayChart.version),
    'charts/vcs-gateway/Chart.yaml appVersion': String(gatewayChart.appVersion),
    'lib AGENT_VERSION': AGENT_VERSION,
    'CHANGELOG.md newest release': changelog,
  };
}

/** The entries that differ from package.json's version (empty when all agree). */
export function versionMismatches(versions: ReleaseVersions = releaseVersions()): string[] {
  const expected = versions['package.json version'];
  return Object.entries(versions).filter(([, v]) => v !== expected).map(([where, v]) => `${where} is ${v}, package.json says ${expected}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mismatches = versionMismatches();
  if (mismatches.length > 0) {
    process.stderr.write(`release-versions: ${mismatches.join('; ')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`${releaseVersions()['package.json version']}\n`);
  }
}
