import { expect } from 'chai';
import { buildOutboundHeaders } from '../../lib/policy/outbound-headers.js';

const target = new URL('https://vcs.internal:8443/api/v4/user');

describe('buildOutboundHeaders', function () {
  it('sets Host from the target and keeps allowed headers, lower-cased', function () {
    const out = buildOutboundHeaders(['Host', 'evil.example', 'Accept', 'application/json', 'PRIVATE-TOKEN', 'glpat-x', 'User-Agent', 'ua'], target);
    expect(out).to.deep.equal(['host', 'vcs.internal:8443', 'accept', 'application/json', 'private-token', 'glpat-x', 'user-agent', 'ua']);
  });

  it('drops hop-by-hop, forwarding, method-override, Sudo, Cookie and unknown headers', function () {
    const dropped = [
      'Connection', 'keep-alive', 'Keep-Alive', '5', 'Transfer-Encoding', 'chunked', 'TE', 'trailers', 'Upgrade', 'h2c',
      'Proxy-Authorization', 'Basic x', 'Proxy-Connection', 'close', 'Forwarded', 'for=1.2.3.4', 'X-Forwarded-For', '1.2.3.4',
      'X-Forwarded-Host', 'evil', 'X-Forwarded-Proto', 'http', 'X-Real-IP', '1.2.3.4', 'X-HTTP-Method-Override', 'DELETE',
      'X-HTTP-Method', 'DELETE', 'X-Method-Override', 'DELETE', 'Sudo', 'root', 'Cookie', 'session=1', 'X-Whatever', '1', ':path', '/x',
    ];
    expect(buildOutboundHeaders(dropped, target)).to.deep.equal(['host', 'vcs.internal:8443']);
  });

  it('drops allowed headers named in Connection (RFC 9110 §7.6.1)', function () {
    const out = buildOutboundHeaders(['Connection', 'close, Authorization', 'Authorization', 'Bearer x', 'Accept', '*/*'], target);
    expect(out).to.deep.equal(['host', 'vcs.internal:8443', 'accept', '*/*']);
  });

  it('keeps repeated allowed headers in order and drops malformed ones', function () {
    const out = buildOutboundHeaders(
      ['Accept', 'a', 'If-None-Match', '"1"', 'accept', 'b', 'Accept', 'c\r\nX-Injected: 1', 'Bad Name', 'x', 'Authorization', 'Basic y'],
      target,
    );
    expect(out).to.deep.equal(['host', 'vcs.internal:8443', 'accept', 'a', 'if-none-match', '"1"', 'accept', 'b', 'authorization', 'Basic y']);
  });

  it('uses the default-port host without a port', function () {
    expect(buildOutboundHeaders([], new URL('https://gitlab.example/api'))).to.deep.equal(['host', 'gitlab.example']);
  });
});
