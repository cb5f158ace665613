// One version per release across the npm package, the chart, the agent's
// reported version and the changelog (docs/releases.md).
import { expect } from 'chai';
import { releaseVersions, versionMismatches } from '../../scripts/release-versions.js';

describe('release versions', () => {
  it('agree across package.json, both charts\' Chart.yaml (version, appVersion), AGENT_VERSION and CHANGELOG.md', () => {
    const versions = releaseVersions();
    expect(versions['package.json version']).to.match(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    expect(versionMismatches(versions)).to.deep.equal([]);
    expect(Object.keys(versions)).to.include.members(['charts/vcs-gateway/Chart.yaml version', 'charts/vcs-gateway/Chart.yaml appVersion']);
  });

  it('names a gateway chart that disagrees', () => {
    const versions = { ...releaseVersions(), 'charts/vcs-gateway/Chart.yaml version': '0.0.1' };
    expect(versionMismatches(versions)).to.deep.equal([`charts/vcs-gateway/Chart.yaml version is 0.0.1, package.json says ${versions['package.json version']}`]);
  });

  it('names the one that disagrees', () => {
    const versions = { ...releaseVersions(), 'lib AGENT_VERSION': '9.9.9' };
    expect(versionMismatches(versions)).to.deep.equal([`lib AGENT_VERSION is 9.9.9, package.json says ${versions['package.json version']}`]);
  });
});
