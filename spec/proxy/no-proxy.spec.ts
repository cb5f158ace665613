import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { isLoopbackTarget, isNoProxyMatch } from '../../lib/proxy/index.js';

// [NO_PROXY value, target URL, bypasses the proxy?]
const TABLE: ReadonlyArray<readonly [string, string, boolean]> = [
  // host and its subdomains
  ['example.com', 'https://example.com', true],
  ['example.com', 'https://git.example.com', true],
  ['example.com', 'https://a.b.example.com:8443/x', true],
  ['example.com', 'https://badexample.com', false],
  ['example.com', 'https://example.com.evil.test', false],
  ['example.com', 'https://example.org', false],
  // leading dot and *. mean the same as the bare domain
  ['.example.com', 'https://example.com', true],
  ['.example.com', 'https://git.example.com', true],
  ['.example.com', 'https://badexample.com', false],
  ['*.example.com', 'https://example.com', true],
  ['*.example.com', 'https://git.example.com', true],
  // case-insensitive, trailing dot of a fully qualified name ignored
  ['EXAMPLE.Com', 'https://Git.Example.COM', true],
  ['example.com', 'https://git.example.com.', true],
  ['example.com.', 'https://git.example.com', true],
  // separators: commas and/or whitespace, empty entries ignored
  ['a.test, example.com', 'https://example.com', true],
  ['a.test example.com', 'https://example.com', true],
  ['a.test,,\t example.com ,', 'https://example.com', true],
  ['a.test,b.test', 'https://example.com', false],
  ['', 'https://example.com', false],
  [' , ', 'https://example.com', false],
  // * disables the proxy for everything
  ['*', 'https://example.com', true],
  ['a.test, *', 'http://10.1.2.3:8080', true],
  // host:port matches only that port; the scheme's default port counts
  ['example.com:8443', 'https://git.example.com:8443', true],
  ['example.com:8443', 'https://git.example.com', false],
  ['example.com:443', 'https://git.example.com', true],
  ['example.com:80', 'http://git.example.com', true],
  ['example.com:80', 'https://git.example.com', false],
  // IPv4 literals and CIDR
  ['10.1.2.3', 'https://10.1.2.3', true],
  ['10.1.2.3', 'https://10.1.2.4', false],
  ['10.1.2.3:8443', 'https://10.1.2.3:8443', true],
  ['10.1.2.3:8443', 'https://10.1.2.3', false],
  ['10.0.0.0/8', 'https://10.200.3.4:9000', true],
  ['10.0.0.0/8', 'https://11.0.0.1', false],
  ['192.168.1.0/24', 'http://192.168.1.77', true],
  ['192.168.1.0/24', 'http://192.168.2.1', false],
  ['10.0.0.0/8', 'https://[::ffff:10.1.2.3]', true],
  // IP entries never match names (no DNS lookups), names never match IPs
  ['10.0.0.0/8', 'https://git.example.com', false],
  ['example.com', 'https://10.1.2.3', false],
  // IPv6 literals (bare or bracketed, with port) and CIDR
  ['2001:db8::1', 'https://[2001:db8::1]', true],
  ['2001:db8::1', 'https://[2001:db8:0:0:0:0:0:1]:8443', true],
  ['[2001:db8::1]', 'https://[2001:db8::1]', true],
  ['[2001:db8::1]:8443', 'https://[2001:db8::1]:8443', true],
  ['[2001:db8::1]:8443', 'https://[2001:db8::1]', false],
  ['2001:db8::/32', 'https://[2001:db8:ffff::5]', true],
  ['2001:db8::/32', 'https://[2001:db9::5]', false],
  ['2001:db8::/32', 'https://10.1.2.3', false],
  ['10.0.0.0/8', 'https://[2001:db8::1]', false],
  // internationalised names are compared in their ASCII (punycode) form
  ['bücher.example', 'https://git.bücher.example', true],
  ['xn--bcher-kva.example', 'https://bücher.example', true],
];

describe('isNoProxyMatch', () => {
  for (const [noProxy, target, expected] of TABLE) {
    it(`NO_PROXY=${JSON.stringify(noProxy)} ${expected ? 'bypasses' : 'does not bypass'} ${target}`, () => {
      expect(isNoProxyMatch(new URL(target), noProxy)).to.equal(expected);
    });
  }

  it('matches nothing when NO_PROXY is unset', () => {
    expect(isNoProxyMatch(new URL('https://example.com'), undefined)).to.equal(false);
  });

  const INVALID = ['10.0.0.0/33', '10.0.0.0/x', 'example.com/24', '10/8', 'example.com:http', 'example.com:0', 'example.com:70000', '[example.com]', '[2001:db8::1', 'foo*.example.com', 'exa$mple.com', '.', '*.', '2001:db8::1:443x'];
  for (const entry of INVALID) {
    it(`rejects the entry ${JSON.stringify(entry)} with an InvalidOptionError naming NO_PROXY`, () => {
      let caught: unknown;
      try {
        isNoProxyMatch(new URL('https://example.com'), `ok.example, ${entry}`);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(InvalidOptionError);
      const error = caught as InvalidOptionError;
      expect(error.option).to.equal('NO_PROXY');
      expect(error.code).to.equal('VCS_INVALID_OPTION');
      expect(error.message).to.contain(`"${entry.toLowerCase()}"`).and.to.contain('expected');
    });
  }
});

describe('isLoopbackTarget', () => {
  const LOOPBACK = ['http://localhost', 'https://LOCALHOST:8443', 'https://git.localhost', 'http://127.0.0.1:3000', 'http://127.9.8.7', 'https://[::1]:8443', 'https://[::ffff:127.0.0.1]', 'http://localhost.'];
  const NOT_LOOPBACK = ['https://example.com', 'https://localhost.example.com', 'http://10.0.0.1', 'http://128.0.0.1', 'https://[::2]', 'https://mylocalhost'];
  for (const target of LOOPBACK) {
    it(`treats ${target} as loopback`, () => expect(isLoopbackTarget(new URL(target))).to.equal(true));
  }
  for (const target of NOT_LOOPBACK) {
    it(`does not treat ${target} as loopback`, () => expect(isLoopbackTarget(new URL(target))).to.equal(false));
  }
});
