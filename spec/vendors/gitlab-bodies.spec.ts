import { expect } from 'chai';
import { createVendorPolicy } from '../../lib/vendors/index.js';

// Rack turns form bodies into params, where `_method` overrides the method: GitLab POST/PUT
// bodies must be JSON, and a POST whose body is unknown must say it is JSON too.
describe('gitlab: request bodies', () => {
  const policy = createVendorPolicy('gitlab');
  const path = '/api/v4/projects/g%2Fr/repository/commits';
  const evaluate = (rawHeaders: string[], hasBody: boolean | undefined) => policy.evaluate({ method: 'POST', path, rawHeaders, ...(hasBody === undefined ? {} : { hasBody }) });

  it('allows JSON bodies', () => {
    expect(evaluate(['content-type', 'application/json; charset=utf-8'], true).allow).to.equal(true);
  });
  it('allows a POST without a body, whatever its type', () => {
    expect(evaluate([], false).allow).to.equal(true);
  });
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'multipart/mixed; boundary=x', 'text/plain']) {
    it(`denies a ${type} body`, () => {
      expect(evaluate(['content-type', type], true).allow).to.equal(false);
    });
  }
  it('denies a body without a Content-Type, and one whose presence is unknown', () => {
    expect(evaluate([], true).allow).to.equal(false);
    expect(evaluate([], undefined).allow).to.equal(false);
  });
});
