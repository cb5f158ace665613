/* CVE-2024-27316 family: a HEADERS frame without END_HEADERS followed by endless CONTINUATION frames. */
import { expect } from 'chai';
import { waitFor } from '../helpers/wait-for.js';
import { startAbuseStack, report, type AbuseStack } from './helpers/abuse-stack.js';
import { expectWithstood } from './helpers/expect-attack.js';
import { FrameType, RawH2Connection, frame, literal, requestBlock } from './helpers/raw-h2.js';

describe('abuse: HTTP/2 CONTINUATION flood on the agent listener', function () {
  this.timeout(120_000);
  let stack: AbuseStack;
  before(async () => {
    stack = await startAbuseStack();
  });
  after(async () => stack?.close());

  for (const [name, field] of [
    ['small header fields', literal('x-flood', 'a'.repeat(100))],
    ['one ever-growing header field', Buffer.alloc(16_000, 0x61)],
  ] as const) {
    it(`${name}: the offender is disconnected, header bytes are not hoarded, the real agent keeps serving`, async () => {
      let connection: RawH2Connection | undefined;
      let frames = 0;
      const numbers = await stack.during(async () => {
        connection = await RawH2Connection.open(stack.gateway.info.port);
        await connection.write(frame(FrameType.HEADERS, 0, 1, requestBlock()));
        const c = connection;
        for (; frames < 100_000 && !c.closed; frames++) await c.write(frame(FrameType.CONTINUATION, 0, 1, field));
        await waitFor(() => c.closed, 15_000, 'the gateway to close the offender');
      });
      report(`continuation-flood (${name})`, { ...numbers, framesSent: frames, goaway: connection?.goaway });
      expect(frames).to.be.below(100_000);
      expectWithstood(stack, numbers);
    });
  }
});
