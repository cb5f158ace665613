import { expect } from 'chai';
import { NoAgentError, PoolBusyError, TunnelStreamError, VcsAgentError } from '../../lib/errors.js';
import { agentErrorResponse, errorAnswer, errorBody, statusForCode } from '../../lib/protocol/error-response.js';

describe('protocol: error answers (one table from code to status, body and Retry-After)', () => {
  it('maps codes to statuses, and an unknown code to 502', () => {
    expect(statusForCode('VCS_POOL_NOT_FOUND')).to.equal(404);
    expect(statusForCode('VCS_DENIED')).to.equal(403);
    expect(statusForCode('VCS_ABORTED')).to.equal(499);
    expect(statusForCode('VCS_SOMETHING_NEW')).to.equal(502);
  });

  it('builds the JSON body with the reason only when there is one', () => {
    expect(JSON.parse(errorBody('VCS_AUTH_FAILED', 'no', 'bad_key'))).to.deep.equal({ error: { code: 'VCS_AUTH_FAILED', message: 'no', reason: 'bad_key' } });
    expect(JSON.parse(errorBody('VCS_CLOSED', 'bye'))).to.deep.equal({ error: { code: 'VCS_CLOSED', message: 'bye' } });
  });

  it('honours PoolBusyError.retryAfterSeconds and adds Retry-After only to retryable codes', () => {
    const busy = errorAnswer(new PoolBusyError('p', 'busy', 7), { header: 'vcs-gateway-error' });
    expect(busy.status).to.equal(503);
    expect(busy.headers).to.include({ 'retry-after': 7, 'vcs-gateway-error': 'VCS_POOL_BUSY', 'content-type': 'application/json' });
    expect(busy.headers['content-length']).to.equal(Buffer.byteLength(busy.body));
    expect(errorAnswer(new NoAgentError('p')).headers['retry-after']).to.equal(1);
    expect(errorAnswer(new TunnelStreamError('reset')).headers).to.not.have.property('retry-after');
    expect(errorAnswer(new VcsAgentError('VCS_BAD_FRAMING', 'x'), { status: 411 }).status).to.equal(411);
  });

  it("gives the agent's own answers a length and the vcs-agent-error header", () => {
    const { headers, body } = agentErrorResponse('VCS_DENIED', 'not on the allowlist');
    expect(headers).to.deep.equal(['content-type', 'application/json', 'content-length', String(body.length), 'vcs-agent-error', 'VCS_DENIED']);
    expect(JSON.parse(body.toString())).to.deep.equal({ error: { code: 'VCS_DENIED', message: 'not on the allowlist' } });
  });
});
