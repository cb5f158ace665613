import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { displayProxy, resolveProxy, type ProxyEnvironment } from '../../lib/proxy/index.js';

const PROXIES: ProxyEnvironment = { httpsProxy: 'http://secure-proxy.corp:3128', httpProxy: 'http://plain-proxy.corp:8080' };

function invalidOption(run: () => unknown): InvalidOptionError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected an InvalidOptionError').to.be.instanceOf(InvalidOptionError);
  return caught as InvalidOptionError;
}

describe('resolveProxy', () => {
  it('uses HTTPS_PROXY for https targets and HTTP_PROXY for http targets', () => {
    expect(resolveProxy(new URL('https://git.example.com/api'), PROXIES)?.href).to.equal('http://secure-proxy.corp:3128/');
    expect(resolveProxy(new URL('http://git.example.com/api'), PROXIES)?.href).to.equal('http://plain-proxy.corp:8080/');
  });

  it('does not fall back from one variable to the other', () => {
    expect(resolveProxy(new URL('https://git.example.com'), { httpProxy: 'http://plain-proxy.corp:8080' })).to.equal(undefined);
    expect(resolveProxy(new URL('http://git.example.com'), { httpsProxy: 'http://secure-proxy.corp:3128' })).to.equal(undefined);
  });

  it('connects directly when no proxy is set or the value is empty', () => {
    expect(resolveProxy(new URL('https://git.example.com'), {})).to.equal(undefined);
    expect(resolveProxy(new URL('https://git.example.com'), { httpsProxy: '' })).to.equal(undefined);
  });

  it('honours NO_PROXY', () => {
    const env = { ...PROXIES, noProxy: '.example.com, 10.0.0.0/8' };
    expect(resolveProxy(new URL('https://git.example.com'), env)).to.equal(undefined);
    expect(resolveProxy(new URL('http://10.20.30.40:7990'), env)).to.equal(undefined);
    expect(resolveProxy(new URL('https://git.example.org'), env)?.hostname).to.equal('secure-proxy.corp');
  });

  it('never proxies loopback, whatever NO_PROXY says', () => {
    for (const target of ['https://localhost:8443', 'http://127.0.0.1:3000', 'https://[::1]', 'https://git.localhost']) {
      expect(resolveProxy(new URL(target), PROXIES), target).to.equal(undefined);
    }
  });

  it('accepts an https proxy, credentials, IPv6 and a scheme-less host:port (meaning http://)', () => {
    expect(resolveProxy(new URL('https://a.test'), { httpsProxy: 'https://proxy.corp:8443' })?.protocol).to.equal('https:');
    const withCredentials = resolveProxy(new URL('https://a.test'), { httpsProxy: 'http://alice:s%40cret@proxy.corp:3128' });
    expect(withCredentials?.username).to.equal('alice');
    expect(withCredentials?.password).to.equal('s%40cret');
    expect(resolveProxy(new URL('https://a.test'), { httpsProxy: 'http://[fd00::1]:3128' })?.hostname).to.equal('[fd00::1]');
    expect(resolveProxy(new URL('https://a.test'), { httpsProxy: 'proxy.corp:3128' })?.href).to.equal('http://proxy.corp:3128/');
    expect(resolveProxy(new URL('https://a.test'), { httpsProxy: '  http://proxy.corp:3128/ ' })?.href).to.equal('http://proxy.corp:3128/');
  });

  const INVALID: ReadonlyArray<readonly [string, string]> = [
    ['socks5://proxy.corp:1080', 'socks5 proxies are not supported'],
    ['ftp://proxy.corp', 'ftp proxies are not supported'],
    ['http://proxy.corp:3128/path', 'no path, query or fragment'],
    ['http://proxy.corp:3128/?x=1', 'no path, query or fragment'],
    ['http://proxy.corp:0', 'port 0'],
    ['http://proxy.corp:99999', 'not a URL'],
    ['http://', 'not a URL'],
    ['http://proxy corp:3128', 'whitespace'],
  ];
  for (const [value, problem] of INVALID) {
    it(`rejects HTTPS_PROXY=${JSON.stringify(value)} naming the variable and what is expected`, () => {
      const error = invalidOption(() => resolveProxy(new URL('https://git.example.com'), { httpsProxy: value }));
      expect(error.option).to.equal('HTTPS_PROXY');
      expect(error.code).to.equal('VCS_INVALID_OPTION');
      expect(error.message).to.match(/^HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL/);
      expect(error.message).to.contain(problem);
    });
  }

  it('names HTTP_PROXY for http targets', () => {
    const error = invalidOption(() => resolveProxy(new URL('http://git.example.com'), { httpProxy: 'socks5://p:1' }));
    expect(error.option).to.equal('HTTP_PROXY');
    expect(error.message).to.match(/^HTTP_PROXY must be/);
  });

  it('never shows proxy credentials in the message', () => {
    const values = [
      'socks5://alice:hunter2@proxy.corp:1080',
      'http://alice:hunter2@proxy.corp:3128/hunter2?token=hunter2',
      'http://alice:hunter2@proxy.corp:notaport',
      'http://alice:hunter2%ZZ@proxy.corp:3128',
    ];
    for (const value of values) {
      const error = invalidOption(() => resolveProxy(new URL('https://git.example.com'), { httpsProxy: value }));
      expect(error.message, value).not.to.contain('hunter2');
      expect(error.message, value).not.to.contain('alice');
    }
  });

  it('validates the proxy and NO_PROXY even when the target bypasses the proxy', () => {
    expect(invalidOption(() => resolveProxy(new URL('https://localhost'), { httpsProxy: 'socks5://p:1' })).option).to.equal('HTTPS_PROXY');
    expect(invalidOption(() => resolveProxy(new URL('https://a.test'), { httpsProxy: 'http://p:1', noProxy: '10.0.0.0/99' })).option).to.equal('NO_PROXY');
  });

  it('rejects targets that are not http(s)', () => {
    expect(invalidOption(() => resolveProxy(new URL('ssh://git.example.com'), PROXIES)).option).to.equal('target');
  });

  it('names a proxy as scheme://host:port without credentials', () => {
    expect(displayProxy(new URL('http://alice:hunter2@proxy.corp'))).to.equal('http://proxy.corp:80');
    expect(displayProxy(new URL('https://proxy.corp'))).to.equal('https://proxy.corp:443');
    expect(displayProxy(new URL('http://[fd00::1]:3128'))).to.equal('http://[fd00::1]:3128');
  });
});
