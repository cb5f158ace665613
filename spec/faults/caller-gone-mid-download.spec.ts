import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkDownload } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

const SIZE = 32 * 1024 * 1024;

describe('fault: the caller goes away mid-download', function () {
  this.timeout(30_000);

  it('front door: a client that closes its socket after 1 MiB aborts the exchange end to end', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1, frontDoor: true });
    try {
      const access: AccessLogRecord[] = [];
      stack.harness.gateway.on('access', (record) => access.push(record));
      const path = `/allowed/dl/${SIZE}/${newId()}`;
      const received = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${stack.harness.frontDoorUrl}/${stack.harness.pool}${path}`, (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes >= 1024 * 1024) {
              req.destroy();
              resolve(bytes);
            }
          });
          res.on('end', () => reject(new Error('the whole body arrived: the caller was never cut off')));
        });
        req.on('error', () => {});
        req.end();
      });
      expect(received).to.be.below(SIZE);
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the VCS to see the request abandoned');
      await waitFor(() => access.length === 1, 5000, 'the access log line');
      expect(access[0]).to.include({ outcome: 'aborted', errorCode: 'VCS_ABORTED', status: 200 });
      const id = newId();
      expect(checkDownload(await stack.download(id, 100_000), id, 100_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });

  it('library: destroying the response body mid-way frees the stream for the next request', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1 });
    try {
      const path = `/allowed/dl/${SIZE}/${newId()}`;
      const response = await stack.harness.stream(path);
      let bytes = 0;
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length;
        if (bytes >= 1024 * 1024) break; // for-await's break destroys the body
      }
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the VCS to see the request abandoned');
      const id = newId();
      expect(checkDownload(await stack.download(id, 100_000), id, 100_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
