/*
 * HPACK bomb: a 4 KB header value enters the dynamic table once, then each 1-byte indexed
 * reference to it makes the decoder produce another 4 KB, so a few KB on the wire would
 * decode to megabytes of headers.
 */
import { expect } from 'chai';
import { waitFor } from '../helpers/wait-for.js';
import { startAbuseStack, report, type AbuseStack } from './helpers/abuse-stack.js';
import { expectWithstood } from './helpers/expect-attack.js';
import { Flag, FrameType, RawH2Connection, frame, indexed, literalIndexed, requestBlock } from './helpers/raw-h2.js';

describe('abuse: HPACK bomb on the agent listener', function () {
  this.timeout(120_000);
  let stack: AbuseStack;
  before(async () => {
    stack = await startAbuseStack();
  });
  after(async () => stack?.close());

  it('each bomb stream is refused without decoding it whole, the offender is disconnected, the real agent keeps serving', async () => {
    let connection: RawH2Connection | undefined;
    let streams = 0;
    const numbers = await stack.during(async () => {
      connection = await RawH2Connection.open(stack.gateway.info.port);
      const c = connection;
      // 4000 references × 4 KB = 16 MB decoded per header block (64 × SETTINGS_MAX_HEADER_LIST_SIZE).
      const block = Buffer.concat([requestBlock(), literalIndexed('x-bomb', 'b'.repeat(4000)), ...Array.from({ length: 4000 }, () => indexed(62))]);
      for (let id = 1; streams < 5000 && !c.closed; id += 2, streams++) {
        await c.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, block));
      }
      await waitFor(() => c.closed, 15_000, 'the gateway to close the offender');
    });
    const refused = connection?.received.filter((f) => f.type === FrameType.RST_STREAM).length ?? 0;
    report('hpack-bomb', { ...numbers, streamsSent: streams, streamsReset: refused, goaway: connection?.goaway });
    expect(streams).to.be.below(5000);
    expectWithstood(stack, numbers);
  });
});
