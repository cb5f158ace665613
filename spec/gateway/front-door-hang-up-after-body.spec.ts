import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';
import { hangUpCaller, LateEndDispatcher, serverSideClosed, serverSockets } from '../helpers/late-end.js';
import { startHarness, type Harness } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A caller that sends `Connection: close` (Node's `agent: false`, curl --http1.0) hangs up as
 * soon as it has the body its Content-Length declared, which can be before the tunnel's
 * END_STREAM reaches the gateway (the CI of 2026-12-07 saw it on Node 24, through a peer hop).
 * That caller got the whole answer: its record must say `completed`, not `aborted`.
 */

/*
 * Above the agent's coalescing limit (32 KiB, agent-stream.ts), so the body goes out before the
 * end; a smaller one travels with its end in one frame on a direct path (not through a peer hop).
 */
const BODY_BYTES = 40_000;

describe('front door: a caller that hangs up once it has the whole declared body', function () {
  this.timeout(20_000);
  let harness: Harness;
  let dispatcher: LateEndDispatcher;
  let port = 0;
  let watch: ReturnType<typeof serverSockets>;
  const access: AccessLogRecord[] = [];

  before(async () => {
    dispatcher = new LateEndDispatcher();
    watch = serverSockets(() => port);
    harness = await startHarness({
      policy: testPolicy,
      frontDoor: true,
      parallelism: 1,
      client: { upstreamDispatcher: dispatcher },
      vcs(_req, res) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY_BYTES });
        res.end(Buffer.alloc(BODY_BYTES, 0x61));
      },
    });
    port = Number(new URL(harness.frontDoorUrl as string).port);
    harness.gateway.on('access', (record) => access.push(record));
  });

  after(async () => {
    watch?.stop();
    dispatcher?.release();
    await harness?.close();
    await dispatcher?.destroy();
  });

  it('records completed when the tunnel ends after the caller left', async () => {
      const before = access.length;
      const seen = watch.sockets.length;
      const held = dispatcher.heldCount;
      const answer = await hangUpCaller(`${harness.frontDoorUrl}/${harness.pool}/allowed/late-end`);
      expect(answer).to.deep.equal({ status: 200, bytes: BODY_BYTES });
      expect(dispatcher.heldCount, 'the response end held at the agent').to.equal(held + 1);
      // The gateway's side of the connection closed too, and its close handlers ran (they emit
      // on nextTick): the gateway knows the caller is gone while the exchange is still open.
      await serverSideClosed(watch.sockets[seen]);
      expect(access.length, 'no record before the tunnel ended').to.equal(before);
      dispatcher.release();
      await waitFor(() => access.length === before + 1, 5000, 'the access record');
      expect(access[before]).to.include({ outcome: 'completed', status: 200, bytesIn: BODY_BYTES });
      expect(access[before]).to.not.have.property('errorCode');
  });

  it('aborts when the tunnel has not ended 5 s after the caller left with the whole body', async () => {
    const before = access.length;
    const held = dispatcher.heldCount;
    const started = performance.now();
    const answer = await hangUpCaller(`${harness.frontDoorUrl}/${harness.pool}/allowed/never-ends`);
    expect(answer).to.deep.equal({ status: 200, bytes: BODY_BYTES });
    expect(dispatcher.heldCount).to.equal(held + 1);
    await waitFor(() => access.length === before + 1, 10_000, 'the access record');
    expect(access[before]).to.include({ outcome: 'aborted', errorCode: 'VCS_ABORTED', status: 200, bytesIn: BODY_BYTES });
    expect(performance.now() - started, 'the grace (END_AFTER_BODY_GRACE_MS)').to.be.at.least(5000);
    dispatcher.release();
  });

  it('still aborts at once when the caller leaves before the declared body is complete', async () => {
    // A VCS answer whose declared length never arrives in full: the caller gives up mid-body.
    const before = access.length;
    const partial = await startHarness({
      policy: testPolicy,
      frontDoor: true,
      parallelism: 1,
      vcs(_req, res) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 2 * BODY_BYTES });
        res.write(Buffer.alloc(BODY_BYTES, 0x61));
      },
    });
    const records: AccessLogRecord[] = [];
    partial.gateway.on('access', (record) => records.push(record));
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${partial.frontDoorUrl}/${partial.pool}/allowed/partial`, { agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.setTimeout(10_000, () => reject(new Error('no body byte arrived')));
        req.end();
      });
      await waitFor(() => records.length === 1, 5000, 'the access record');
      expect(records[0]).to.include({ outcome: 'aborted', errorCode: 'VCS_ABORTED', status: 200 });
      expect(access.length).to.equal(before);
    } finally {
      await partial.close();
    }
  });
});
