import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { parseGodebug } from '../../lib/trace/godebug.js';

describe('trace/godebug', () => {
  it('reads http2debug among other comma-separated settings', () => {
    expect(parseGodebug(undefined)).to.deep.equal({ http2debug: 0 });
    expect(parseGodebug('')).to.deep.equal({ http2debug: 0 });
    expect(parseGodebug('http2debug=1')).to.deep.equal({ http2debug: 1 });
    expect(parseGodebug('http2debug=2')).to.deep.equal({ http2debug: 2 });
    expect(parseGodebug('http2debug=0')).to.deep.equal({ http2debug: 0 });
    expect(parseGodebug('gctrace=1,http2debug=2,,x509sha1=1')).to.deep.equal({ http2debug: 2 });
    expect(parseGodebug('http2client=0,madvdontneed')).to.deep.equal({ http2debug: 0 });
    expect(parseGodebug('http2debug=1,http2debug=1')).to.deep.equal({ http2debug: 1 });
  });

  for (const bad of ['http2debug=3', 'http2debug=', 'http2debug', 'http2debug=10', 'http2debug=true', ' http2debug=1', 'http2debug =2', 'http2debug=1,http2debug=2']) {
    it(`rejects ${JSON.stringify(bad)} naming GODEBUG`, () => {
      let caught: unknown;
      try {
        parseGodebug(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InvalidOptionError);
      const e = caught as InvalidOptionError;
      expect(e.code).to.equal('VCS_INVALID_OPTION');
      expect(e.option).to.equal('GODEBUG');
      expect(e.message).to.match(/^GODEBUG: /).and.to.match(/http2debug/);
    });
  }
});
