import { expect } from 'chai';
import { isSecretHeader, redactHeaderValue, redactQuery } from '../../lib/trace/redact.js';

describe('trace/redact', () => {
  it('hides the listed headers and any whose name contains token, secret, key or password', () => {
    for (const name of [
      'authorization',
      'Proxy-Authorization',
      'cookie',
      'set-cookie',
      'private-token',
      'x-vcs-agent-key',
      'x-api-key',
      'x-auth-token',
      'x-client-secret',
      'x-db-password',
    ]) {
      expect(isSecretHeader(name), name).to.equal(true);
      expect(redactHeaderValue(name, 'v'), name).to.equal(null);
    }
    for (const name of [':method', ':status', 'content-type', 'user-agent', 'www-authenticate', 'keep-alive']) {
      expect(isSecretHeader(name), name).to.equal(false);
    }
  });

  it('masks secret query parameters in paths and user-info in authorities', () => {
    expect(redactHeaderValue(':path', '/api/v4/projects?private_token=abc&page=2')).to.equal(
      '/api/v4/projects?private_token=[redacted]&page=2',
    );
    expect(redactQuery('/a?access_token=x&X-Amz-Signature=y&code=z&q=1#f')).to.equal(
      '/a?access_token=[redacted]&X-Amz-Signature=[redacted]&code=[redacted]&q=1#f',
    );
    expect(redactQuery('/plain/path')).to.equal('/plain/path');
    expect(redactHeaderValue(':authority', 'user:pw@gw.example:443')).to.equal('[redacted]@gw.example:443');
    expect(redactHeaderValue(':authority', 'gw.example:443')).to.equal('gw.example:443');
  });
});
