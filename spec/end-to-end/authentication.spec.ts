import { expect } from 'chai';
import { TunnelClient } from '../../lib/agent/tunnel-client.js';
import { AuthenticationError, InvalidTokenError } from '../../lib/errors.js';
import { decodePoolToken, encodePoolToken } from '../../lib/protocol/token.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { MemoryLogger } from '../helpers/memory-logger.js';

describe('agent authentication', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ policy: testPolicy });
  });
  after(() => harness.close());

  function clientWith(token: string, logger = new MemoryLogger()): TunnelClient {
    return new TunnelClient({ token, target: harness.vcsUrl, policy: testPolicy, logger, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  }

  it('rejects a token that is not base64 JSON, naming the problem', () => {
    expect(() => clientWith('%%%not-base64%%%')).to.throw(InvalidTokenError, /not base64/);
    expect(() => clientWith(Buffer.from('{"host": 1}').toString('base64'))).to.throw(InvalidTokenError, /"host"/);
    const noKey = Buffer.from(JSON.stringify({ host: harness.gatewayUrl, pool_ulid: '01HZZZZZZZZZZZZZZZZZZZZZZZ' })).toString('base64');
    expect(() => clientWith(noKey)).to.throw(InvalidTokenError, /"key"/);
  });

  it('an unknown pool is refused with a clear error, and the gateway logs it without the key', async () => {
    const real = decodePoolToken(harness.token);
    const token = encodePoolToken({ ...real, pool_ulid: '01HZZZZZZZZZZZZZZZZZZZZZZZ' });
    const error = await clientWith(token).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(AuthenticationError);
    expect((error as AuthenticationError).reason).to.equal('unknown_pool');
    expect((error as Error).message).to.match(/Unknown pool/);
    const refusal = harness.gatewayLogger.entries.find((entry) => entry.message === 'agent refused' && entry.reason === 'unknown_pool');
    expect(refusal).to.not.equal(undefined);
    expect(harness.gatewayLogger.text()).to.not.include(real.key);
  });

  it('a wrong key is refused with a clear error, and neither log holds the key', async () => {
    const real = decodePoolToken(harness.token);
    const wrongKey = 'wrong-key-that-must-not-be-logged-0123456789';
    const logger = new MemoryLogger();
    const error = await clientWith(encodePoolToken({ ...real, key: wrongKey }), logger).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(AuthenticationError);
    expect((error as AuthenticationError).reason).to.equal('bad_key');
    expect((error as Error).message).to.not.include(wrongKey);
    expect(harness.gatewayLogger.entries.some((entry) => entry.reason === 'bad_key')).to.equal(true);
    expect(harness.gatewayLogger.text()).to.not.include(wrongKey);
    expect(harness.gatewayLogger.text()).to.not.include(real.key);
    expect(logger.text()).to.not.include(wrongKey);
  });

  it('the right key connects and the gateway lists the connection with its metadata', async () => {
    const client = new TunnelClient({ token: harness.token, target: harness.vcsUrl, policy: testPolicy, metadata: { region: 'eu-1', team: 'infra' } });
    try {
      await client.start();
      const info = harness.gateway.connections(harness.pool).find((connection) => connection.id === client.connectionId);
      expect(info?.metadata).to.deep.equal({ region: 'eu-1', team: 'infra' });
      expect(info?.agentId).to.equal(client.agentId);
    } finally {
      client.destroy();
    }
  });
});
