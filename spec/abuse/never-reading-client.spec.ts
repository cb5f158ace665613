/* A client that never reads: everything the gateway sends it (ACKs, answers) backs up. */
import { expect } from 'chai';
import { waitFor } from '../helpers/wait-for.js';
import { startAbuseStack, report, type AbuseStack } from './helpers/abuse-stack.js';
import { expectWithstood } from './helpers/expect-attack.js';
import { Flag, FrameType, RawH2Connection, frame, pingFrame, requestBlock } from './helpers/raw-h2.js';

describe('abuse: a client that never reads, on the agent listener', function () {
  this.timeout(120_000);
  let stack: AbuseStack;
  before(async () => {
    stack = await startAbuseStack();
  });
  after(async () => stack?.close());

  it('that keeps sending PINGs: the gateway does not buffer the ACKs without bound and disconnects it', async () => {
    let connection: RawH2Connection | undefined;
    let frames = 0;
    const numbers = await stack.during(async () => {
      connection = await RawH2Connection.open(stack.gateway.info.port, { read: false });
      const c = connection;
      const burst = Buffer.concat(Array.from({ length: 64 }, () => pingFrame()));
      const deadline = Date.now() + 30_000;
      for (; !c.closed && Date.now() < deadline; frames += 64) await c.write(burst);
      await waitFor(() => c.closed, 15_000, 'the gateway to close the offender');
    });
    report('never-read (PING)', { ...numbers, framesSent: frames });
    expect(connection?.closed).to.equal(true);
    expectWithstood(stack, numbers);
  });

  it('that only sends requests and waits: disconnected when it has not authenticated in time', async () => {
    let connection: RawH2Connection | undefined;
    const numbers = await stack.during(async () => {
      connection = await RawH2Connection.open(stack.gateway.info.port, { read: false });
      const c = connection;
      for (let id = 1; id < 8; id += 2) await c.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, requestBlock('/v1/agent/stream')));
      // Only writes reveal a closed socket to a client that does not read.
      await waitFor(() => {
        void c.write(pingFrame());
        return c.closed;
      }, 20_000, 'the gateway to close the idle offender');
    });
    report('never-read (idle, unauthenticated)', numbers);
    expect(connection?.closed).to.equal(true);
    expectWithstood(stack, numbers);
  });
});
