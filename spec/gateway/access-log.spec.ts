import { expect } from 'chai';
import { AccessLog, decisionOf } from '../../lib/gateway/access-log.js';
import type { AccessLogRecord } from '../../lib/gateway/gateway.js';

function record(n: number, extra: Partial<AccessLogRecord> = {}): AccessLogRecord {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    requestId: `req-${n}`,
    pool: 'p',
    connectionId: 'c',
    agentId: 'a',
    method: 'GET',
    path: `/r/${n}`,
    status: 200,
    bytesIn: 10,
    bytesOut: 0,
    durationMs: 1.5,
    outcome: 'completed',
    ...extra,
  };
}

describe('AccessLog', () => {
  it('keeps the newest records in a bounded ring and returns them newest first', () => {
    const log = new AccessLog({ capacity: 3 });
    for (let n = 1; n <= 5; n++) log.add(record(n));
    expect(log.size).to.equal(3);
    expect(log.query().map((e) => e.requestId)).to.deep.equal(['req-5', 'req-4', 'req-3']);
    expect(log.query({ limit: 2 }).map((e) => e.requestId)).to.deep.equal(['req-5', 'req-4']);
  });

  it('writes every record as one JSON line with its decision to the sink', () => {
    const lines: string[] = [];
    const log = new AccessLog({ capacity: 1, sink: { write: (line: string) => lines.push(line) } });
    log.add(record(1));
    log.add(record(2, { status: 403 }));
    expect(lines).to.have.length(2);
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).to.equal(true);
    expect(JSON.parse(lines[1] as string)).to.deep.equal({ ...record(2, { status: 403 }), decision: 'deny' });
  });

  it('filters on pool, exact status or class, decision, outcome and time window', () => {
    const log = new AccessLog();
    log.add(record(1));
    log.add(record(2, { pool: 'q', status: 404 }));
    log.add(record(3, { status: 0, outcome: 'rejected', errorCode: 'VCS_NO_AGENT', connectionId: undefined, agentId: undefined }));
    log.add(record(4, { status: 502, outcome: 'failed' }));
    const ids = (filter: Parameters<AccessLog['query']>[0]): string[] => log.query(filter).map((e) => e.requestId);
    expect(ids({ pool: 'q' })).to.deep.equal(['req-2']);
    expect(ids({ status: { class: 4 } })).to.deep.equal(['req-2']);
    expect(ids({ status: { exact: 0 } })).to.deep.equal(['req-3']);
    expect(ids({ decision: 'none' })).to.deep.equal(['req-3']);
    expect(ids({ decision: 'allow' })).to.deep.equal(['req-4', 'req-2', 'req-1']);
    expect(ids({ outcome: 'failed' })).to.deep.equal(['req-4']);
    expect(ids({ since: Date.UTC(2026, 0, 1, 0, 0, 2), until: Date.UTC(2026, 0, 1, 0, 0, 4) })).to.deep.equal(['req-3', 'req-2']);
  });

  it('derives the decision: the agent\'s denial, an answer through an agent, or none', () => {
    expect(decisionOf(record(1, { errorCode: 'VCS_DENIED', status: 403 }))).to.equal('deny');
    expect(decisionOf(record(1, { status: 403 }))).to.equal('deny');
    expect(decisionOf(record(1, { status: 500 }))).to.equal('allow');
    expect(decisionOf(record(1, { status: 0, outcome: 'failed' }))).to.equal('none');
    expect(decisionOf(record(1, { connectionId: undefined, status: 0, outcome: 'rejected' }))).to.equal('none');
  });

  it('refuses a capacity that is not a whole number from 1 to 1 000 000, naming it', () => {
    for (const capacity of [0, -1, 1.5, 2_000_000]) expect(() => new AccessLog({ capacity })).to.throw(/capacity/);
  });
});
