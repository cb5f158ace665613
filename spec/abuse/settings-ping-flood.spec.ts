/* SETTINGS and PING floods: each frame obliges the gateway to send an ACK. */
import { expect } from 'chai';
import { waitFor } from '../helpers/wait-for.js';
import { startAbuseStack, report, type AbuseStack } from './helpers/abuse-stack.js';
import { expectWithstood } from './helpers/expect-attack.js';
import { RawH2Connection, pingFrame, settingsFrame } from './helpers/raw-h2.js';

describe('abuse: HTTP/2 SETTINGS and PING floods on the agent listener', function () {
  this.timeout(120_000);
  let stack: AbuseStack;
  before(async () => {
    stack = await startAbuseStack();
  });
  after(async () => stack?.close());

  const floods: Array<[string, Buffer]> = [
    ['SETTINGS', settingsFrame([[0x4, 65_535], [0x2, 0]])],
    ['SETTINGS with too many entries', settingsFrame(Array.from({ length: 40 }, (_, i) => [0x4, 65_535 + i] as [number, number]))],
    ['PING', pingFrame()],
  ];
  for (const [name, unit] of floods) {
    it(`${name}: the offender is disconnected; the real agent keeps serving`, async () => {
      let connection: RawH2Connection | undefined;
      let frames = 0;
      const numbers = await stack.during(async () => {
        connection = await RawH2Connection.open(stack.gateway.info.port);
        const c = connection;
        // 64 frames per write: a flood, not a trickle.
        const burst = Buffer.concat(Array.from({ length: 64 }, () => unit));
        for (; frames < 500_000 && !c.closed; frames += 64) await c.write(burst);
        await waitFor(() => c.closed, 15_000, 'the gateway to close the offender');
      });
      report(`${name} flood`, { ...numbers, framesSent: frames, goaway: connection?.goaway });
      expect(frames).to.be.below(500_000);
      expectWithstood(stack, numbers);
    });
  }
});
