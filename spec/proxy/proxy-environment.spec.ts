import { expect } from 'chai';
import { proxyEnvironmentFrom } from '../../lib/proxy/index.js';

describe('proxyEnvironmentFrom', () => {
  it('reads the upper-case variables', () => {
    expect(
      proxyEnvironmentFrom({ HTTPS_PROXY: 'http://a:1', HTTP_PROXY: 'http://b:2', NO_PROXY: 'x.example' }),
    ).to.deep.equal({ httpsProxy: 'http://a:1', httpProxy: 'http://b:2', noProxy: 'x.example' });
  });

  it('reads the lower-case variables', () => {
    expect(
      proxyEnvironmentFrom({ https_proxy: 'http://a:1', http_proxy: 'http://b:2', no_proxy: 'x.example' }),
    ).to.deep.equal({ httpsProxy: 'http://a:1', httpProxy: 'http://b:2', noProxy: 'x.example' });
  });

  it('lets the upper-case name win when both are set (Go convention)', () => {
    expect(
      proxyEnvironmentFrom({
        HTTPS_PROXY: 'http://upper:1',
        https_proxy: 'http://lower:1',
        HTTP_PROXY: 'http://upper:2',
        http_proxy: 'http://lower:2',
        NO_PROXY: 'upper.example',
        no_proxy: 'lower.example',
      }),
    ).to.deep.equal({ httpsProxy: 'http://upper:1', httpProxy: 'http://upper:2', noProxy: 'upper.example' });
  });

  it('treats an empty upper-case value as unset and falls back to lower case', () => {
    expect(proxyEnvironmentFrom({ HTTPS_PROXY: '', https_proxy: 'http://lower:1', NO_PROXY: '', no_proxy: '' })).to.deep.equal({
      httpsProxy: 'http://lower:1',
    });
  });

  it('returns an empty environment when nothing is set and ignores unrelated variables', () => {
    expect(proxyEnvironmentFrom({ PATH: '/usr/bin', ALL_PROXY: 'http://c:3', Https_Proxy: 'http://d:4' })).to.deep.equal({});
  });
});
