import { expect } from 'chai';
import { connect } from 'node:net';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';
import { assertNoLeak, leakBaseline } from './helpers/leak-check.js';
import { newId, startFaultStack } from './helpers/fault-stack.js';
import { checkUpload } from './helpers/outcome.js';
import { waitFor } from '../helpers/wait-for.js';

describe('fault: the caller goes away mid-upload', function () {
  this.timeout(30_000);

  it('front door: a client that closes after half its declared body aborts the VCS request; nothing is forwarded as complete', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1, frontDoor: true });
    try {
      const access: AccessLogRecord[] = [];
      stack.harness.gateway.on('access', (record) => access.push(record));
      const id = newId();
      const path = `/allowed/ul/${id}`;
      const port = Number(new URL(stack.harness.frontDoorUrl as string).port);
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`POST /${stack.harness.pool}${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
      socket.write(Buffer.alloc(2 * 1024 * 1024, 'u'));
      await waitFor(() => stack.vcs.seen.includes(path), 5000, 'the upload to reach the VCS');
      socket.destroy();
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the VCS to see the upload abandoned');
      await waitFor(() => access.length === 1, 5000, 'the access log line');
      expect(access[0]).to.include({ outcome: 'aborted', errorCode: 'VCS_ABORTED' });
      const next = newId();
      expect(checkUpload(await stack.upload(next, 300_000), next, 300_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });

  it('library: an upload body that errors mid-way fails with a code and the VCS request is abandoned', async () => {
    const baseline = await leakBaseline();
    const stack = await startFaultStack({ parallelism: 1 });
    try {
      const id = newId();
      const path = `/allowed/ul/${id}`;
      async function* failingBody(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(512 * 1024, 'u');
        await waitFor(() => stack.vcs.seen.includes(path), 5000, 'the upload to reach the VCS');
        throw new Error('the caller lost its source');
      }
      const outcome = await stack.get(path, { method: 'POST', body: failingBody() });
      expect(outcome.kind).to.equal('error');
      if (outcome.kind === 'error') expect(outcome.code).to.match(/^VCS_(ABORTED|STREAM_RESET)$/);
      await waitFor(() => stack.vcs.aborted.includes(path), 10_000, 'the VCS to see the upload abandoned');
      const next = newId();
      expect(checkUpload(await stack.upload(next, 300_000), next, 300_000)).to.equal('ok');
    } finally {
      await stack.close();
    }
    await assertNoLeak(baseline);
  });
});
