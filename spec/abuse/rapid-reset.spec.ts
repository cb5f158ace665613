/* CVE-2023-44487 "rapid reset": open a stream and reset it at once, in a loop. */
import { expect } from 'chai';
import { waitFor } from '../helpers/wait-for.js';
import { startAbuseStack, report, type AbuseStack } from './helpers/abuse-stack.js';
import { expectWithstood } from './helpers/expect-attack.js';
import { Flag, FrameType, RawH2Connection, frame, literal, requestBlock, rstStreamFrame } from './helpers/raw-h2.js';

describe('abuse: HTTP/2 rapid reset on the agent listener', function () {
  this.timeout(120_000);
  let stack: AbuseStack;
  before(async () => {
    stack = await startAbuseStack();
  });
  after(async () => stack?.close());

  async function rapidReset(connection: RawH2Connection, firstStream: number, count: number): Promise<number> {
    let sent = 0;
    for (let id = firstStream; sent < count && !connection.closed; id += 2, sent++) {
      await connection.write(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, id, requestBlock()), rstStreamFrame(id)]));
    }
    return sent;
  }

  it('unauthenticated: the offender is disconnected after a handful of streams; the real agent keeps serving', async () => {
    let connection: RawH2Connection | undefined;
    let sent = 0;
    const numbers = await stack.during(async () => {
      connection = await RawH2Connection.open(stack.gateway.info.port);
      sent = await rapidReset(connection, 1, 50_000);
      await waitFor(() => connection?.closed === true, 15_000, 'the gateway to close the offender');
    });
    report('rapid-reset (unauthenticated)', { ...numbers, streamsSent: sent });
    expect(connection?.closed).to.equal(true);
    expect(sent).to.be.below(50_000);
    expectWithstood(stack, numbers);
  });

  it('authenticated (valid key of another pool): disconnected by the stream-rate bound; the real agent keeps serving', async () => {
    let connection: RawH2Connection | undefined;
    let sent = 0;
    const numbers = await stack.during(async () => {
      connection = await RawH2Connection.open(stack.gateway.info.port);
      const connect = Buffer.concat([
        requestBlock('/v1/agent/connect'),
        literal('authorization', `Bearer ${stack.other.key}`),
        literal('vcs-agent-protocol', '1'),
        literal('vcs-agent-pool', stack.other.poolId),
        literal('vcs-agent-parallelism', '1'),
      ]);
      await connection.write(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, connect));
      const c = connection;
      await waitFor(() => c.received.some((f) => f.type === FrameType.HEADERS && f.streamId === 1) || c.closed, 10_000, 'the connect answer');
      expect(c.closed, 'the attacker authenticated').to.equal(false);
      sent = await rapidReset(c, 3, 100_000);
      await waitFor(() => c.closed, 15_000, 'the gateway to close the offender');
    });
    report('rapid-reset (authenticated)', { ...numbers, streamsSent: sent });
    expect(sent).to.be.below(100_000);
    expectWithstood(stack, numbers);
  });
});
