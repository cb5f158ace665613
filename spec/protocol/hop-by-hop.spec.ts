import { expect } from 'chai';
import { HOP_BY_HOP_HEADERS, stripHopByHop } from '../../lib/protocol/hop-by-hop.js';

describe('stripHopByHop', () => {
  it('drops every hop-by-hop header whatever its case, and keeps the rest in order', () => {
    const raw: string[] = [];
    for (const name of HOP_BY_HOP_HEADERS) raw.push(name.toUpperCase(), 'x', name, 'y', name[0]?.toUpperCase() + name.slice(1), 'z');
    raw.push('Content-Length', '3', 'User-Agent', 'git/2.39', 'X-Custom', 'a', 'x-custom', 'b');
    expect(stripHopByHop(raw)).to.deep.equal(['Content-Length', '3', 'User-Agent', 'git/2.39', 'X-Custom', 'a', 'x-custom', 'b']);
  });

  it('drops the headers Connection names, of any length, and the extra set', () => {
    const raw = ['CONNECTION', 'X-Trace-Id, keep-alive', 'x-trace-id', '1', 'Keep-Alive', 'timeout=5', 'X-Internal-Hop', 'h', 'Accept', '*/*'];
    expect(stripHopByHop(raw)).to.deep.equal(['X-Internal-Hop', 'h', 'Accept', '*/*']);
    expect(stripHopByHop(['Accept', '*/*', 'X-Internal-Hop', 'h'], new Set(['x-internal-hop']))).to.deep.equal(['Accept', '*/*']);
  });
});
