import { expect } from 'chai';
import { normalizeQueryName, queryValues } from '../../lib/policy/query-names.js';
import { createVendorPolicy } from '../../lib/vendors/index.js';

describe('query parameter names as servers read them', () => {
  it('normalises Rack and ASP.NET spellings', () => {
    expect(normalizeQueryName('[sudo]')).to.equal('sudo');
    expect(normalizeQueryName('sudo]')).to.equal('sudo');
    expect(normalizeQueryName(']Sudo')).to.equal('sudo');
    expect(normalizeQueryName('searchCriteria[repositoryId]')).to.equal('searchcriteria.repositoryid');
    expect(normalizeQueryName('SEARCHCRITERIA.SOURCEREPOSITORYID')).to.equal('searchcriteria.sourcerepositoryid');
  });

  it('collects the values of every spelling', () => {
    const query = new URLSearchParams('from_project_id%5D=1&%5Bfrom_project_id%5D=2&FROM_PROJECT_ID=3&other=4');
    expect(queryValues(query, new Set(['from_project_id']))).to.deep.equal(['1', '2', '3']);
  });

  const cases: Array<[string, string, string, string]> = [
    ['gitlab', 'g/.*', '/api/v4/projects/g%2Fr?%5Bsudo%5D=root', /* reason */ 'sudo'],
    ['gitlab', 'g/.*', '/api/v4/projects/g%2Fr?sudo%5D=root', 'sudo'],
    ['gitlab', 'g/.*', '/api/v4/projects/g%2Fr?sudo%5Bx%5D=root', 'sudo'],
    ['gitlab', 'g/.*', '/api/v4/projects/g%2Fr/repository/compare?from=a&to=b&from_project_id%5D=99', 'by id'],
    ['azure_devops', 'proj/.*', '/DefaultCollection/proj/_apis/git/repositories/repo/commits?api-version=7.1&PROJECTID=3f1c9d2e-1111-2222-3333-444455556666', 'by id'],
    ['azure_devops', 'proj/.*', '/DefaultCollection/proj/_apis/git/repositories/repo/commits?api-version=7.1&searchCriteria%5BrepositoryId%5D=3f1c9d2e-1111-2222-3333-444455556666', 'by id'],
    ['azure_devops', 'proj/.*', '/DefaultCollection/proj/_apis/git/repositories/repo/commits?api-version=7.1&repositoryId=3f1c9d2e-1111-2222-3333-444455556666', 'by id'],
    ['azure_devops', 'proj/.*', '/DefaultCollection/proj%2Fteam/_apis/git/repositories/repo?api-version=7.1', 'could not be determined'],
    ['bitbucket_datacenter', 'P/.*', '/rest/api/1.0/projects/P%2Frepos%2Fother/repos/r/commits', 'could not be determined'],
  ];
  for (const [vendor, allowedProjects, path, reason] of cases) {
    it(`${vendor} denies ${path}`, () => {
      const decision = createVendorPolicy(vendor as 'gitlab', { allowedProjects }).evaluate({ method: 'GET', path, rawHeaders: [], hasBody: false });
      expect(decision.allow).to.equal(false);
      expect((decision as { reason: string }).reason).to.include(reason);
    });
  }
});
