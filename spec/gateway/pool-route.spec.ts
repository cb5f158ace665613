import { expect } from 'chai';
import { NoAgentError, PoolBusyError, RequestAbortedError, type VcsAgentError } from '../../lib/errors.js';
import type { ExchangeHandler, ExchangeRequest } from '../../lib/gateway/exchange.js';
import type { ExchangeResult } from '../../lib/gateway/gateway-stream.js';
import { PoolRoute, type RouteConnection, type RouteStream, type RoutedHandler } from '../../lib/gateway/pool-route.js';

/*
 * The router alone, with stand-in connections and streams: which stream a request lands on,
 * who waits, who fails and how busy each connection is. The real streams are covered end to
 * end (fair-dispatch, pool-capacity); this pins the state machine the router owns.
 */

class FakeConnection implements RouteConnection {
  draining = false;
  constructor(readonly name: string) {}
}

class FakeStream implements RouteStream {
  assigned: ExchangeRequest[] = [];
  aborted: Array<{ request: ExchangeRequest; error: VcsAgentError | undefined }> = [];
  resumed = 0;
  constructor(readonly name: string) {}
  assign(request: ExchangeRequest, _handler: ExchangeHandler): void {
    this.assigned.push(request);
  }
  abort(request: ExchangeRequest, error?: VcsAgentError): void {
    this.aborted.push({ request, error });
  }
  resume(): void {
    this.resumed++;
  }
}

class RecordingHandler implements RoutedHandler<FakeConnection> {
  errors: VcsAgentError[] = [];
  settled: Array<{ connection: FakeConnection; result: ExchangeResult }> = [];
  onHeaders(): void {}
  onData(): boolean {
    return true;
  }
  onComplete(): void {}
  onError(error: VcsAgentError): void {
    this.errors.push(error);
  }
  onSettled(connection: FakeConnection, result: ExchangeResult): void {
    this.settled.push({ connection, result });
  }
}

let sequence = 0;
function request(): ExchangeRequest {
  sequence++;
  return { id: `r${sequence}`, pool: 'p', method: 'GET', path: '/', rawHeaders: [], body: null, startedAt: 0 };
}

const OK: ExchangeResult = { status: 200, bytesIn: 1, bytesOut: 0 };

describe('gateway: pool route (the one owner of idle, busy and queue)', () => {
  let route: PoolRoute<FakeConnection, FakeStream>;
  beforeEach(() => {
    route = new PoolRoute<FakeConnection, FakeStream>('id', 'p', { queueTimeoutMs: 60_000, maxQueue: 2 });
  });
  afterEach(() => route.failQueued(() => new NoAgentError('p')));

  it('fails at once with VCS_NO_AGENT when no connection serves the pool', () => {
    const handler = new RecordingHandler();
    route.dispatch(request(), handler);
    expect(handler.errors[0]).to.be.instanceOf(NoAgentError);
  });

  it('sends a request to an idle stream and counts the connection busy until the exchange settles', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    expect(route.load(connection)).to.deep.equal({ busy: 0, idle: 1, served: 0 });
    const handler = new RecordingHandler();
    const first = request();
    route.dispatch(first, handler);
    expect(stream.assigned).to.deep.equal([first]);
    expect(route.load(connection)).to.deep.equal({ busy: 1, idle: 0, served: 0 });
    route.settle(stream, OK);
    expect(route.load(connection)).to.deep.equal({ busy: 0, idle: 0, served: 1 });
    expect(handler.settled).to.deep.equal([{ connection, result: OK }]);
    route.settle(stream, OK); // a second settle for the same exchange changes nothing
    expect(route.load(connection).served).to.equal(1);
  });

  it('prefers the least-busy connection and spreads ties round-robin', () => {
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    route.addConnection(a);
    route.addConnection(b);
    const streams = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].map((name) => new FakeStream(name));
    for (const stream of streams) route.offer(stream.name.startsWith('a') ? a : b, stream);
    for (let i = 0; i < 4; i++) route.dispatch(request(), new RecordingHandler());
    expect(route.load(a).busy).to.equal(2);
    expect(route.load(b).busy).to.equal(2);
  });

  it('takes tied connections in turn, and a connection whose exchange ended rejoins behind the others', () => {
    const connections = ['a', 'b', 'c'].map((name) => new FakeConnection(name));
    const streams: FakeStream[] = [];
    for (const connection of connections) {
      route.addConnection(connection);
      for (const n of [1, 2]) {
        const stream = new FakeStream(`${connection.name}${n}`);
        streams.push(stream);
        route.offer(connection, stream);
      }
    }
    /** Dispatches one request; the name of the connection whose stream took it. */
    const next = (): string => {
      const sent = request();
      route.dispatch(sent, new RecordingHandler());
      return (streams.find((stream) => stream.assigned.includes(sent)) as FakeStream).name.slice(0, 1);
    };
    expect([next(), next(), next()]).to.deep.equal(['a', 'b', 'c']);
    const aStream = streams.find((stream) => stream.name.startsWith('a') && stream.assigned.length === 1) as FakeStream;
    route.settle(aStream, OK);
    route.offer(connections[0] as FakeConnection, aStream);
    expect(next(), 'a is the only least-busy connection').to.equal('a');
    expect([next(), next(), next()]).to.deep.equal(['b', 'c', 'a']);
  });

  it('spreads 2,000 requests over 1,000 connections one per connection, then two, then queues', () => {
    route = new PoolRoute<FakeConnection, FakeStream>('id', 'p', { queueTimeoutMs: 60_000, maxQueue: 1 });
    const connections = Array.from({ length: 1000 }, (_, i) => new FakeConnection(`c${i}`));
    for (const connection of connections) {
      route.addConnection(connection);
      route.offer(connection, new FakeStream(`${connection.name}-1`));
      route.offer(connection, new FakeStream(`${connection.name}-2`));
    }
    for (let i = 0; i < 1000; i++) route.dispatch(request(), new RecordingHandler());
    expect(connections.every((c) => route.load(c).busy === 1)).to.equal(true);
    for (let i = 0; i < 1000; i++) route.dispatch(request(), new RecordingHandler());
    expect(connections.every((c) => route.load(c).busy === 2 && route.load(c).idle === 0)).to.equal(true);
    expect(route.hasIdle).to.equal(false);
    route.dispatch(request(), new RecordingHandler());
    expect(route.queued).to.equal(1);
  });

  it('skips a connection that started draining while it had idle streams, and never uses a removed one', () => {
    const draining = new FakeConnection('draining');
    const removed = new FakeConnection('removed');
    const live = new FakeConnection('live');
    const streams = [new FakeStream('d1'), new FakeStream('r1'), new FakeStream('l1')];
    [draining, removed, live].forEach((connection, i) => {
      route.addConnection(connection);
      route.offer(connection, streams[i] as FakeStream);
    });
    draining.draining = true; // the registry has not taken its idle streams yet
    route.removeConnection(removed);
    route.dispatch(request(), new RecordingHandler());
    expect(streams.map((stream) => stream.assigned.length)).to.deep.equal([0, 0, 1]);
    const waiting = new RecordingHandler();
    route.dispatch(request(), waiting);
    expect(route.queued, 'the draining and removed connections take nothing').to.equal(1);
  });

  it('never dispatches to a draining connection, and fails waiters once no live connection is left', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    connection.draining = true;
    expect(route.takeIdleStreams(connection)).to.deep.equal([stream]);
    const handler = new RecordingHandler();
    route.dispatch(request(), handler);
    expect(handler.errors[0]).to.be.instanceOf(NoAgentError);
    expect(stream.assigned).to.have.length(0);
  });

  it('queues when every stream is busy, hands the next free stream to the oldest waiter, and refuses past maxQueue', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    route.dispatch(request(), new RecordingHandler());
    const older = request();
    const newer = request();
    route.dispatch(older, new RecordingHandler());
    route.dispatch(newer, new RecordingHandler());
    expect(route.queued).to.equal(2);
    const refused = new RecordingHandler();
    route.dispatch(request(), refused);
    expect(refused.errors[0]).to.be.instanceOf(PoolBusyError);
    expect((refused.errors[0] as PoolBusyError).retryAfterSeconds).to.equal(1);
    route.settle(stream, OK);
    route.offer(connection, stream);
    expect(stream.assigned.at(-1)).to.equal(older);
    expect(route.queued).to.equal(1);
    expect(route.load(connection).busy).to.equal(1);
  });

  it('fails a request that waited the whole queue timeout with VCS_POOL_BUSY', async () => {
    route = new PoolRoute<FakeConnection, FakeStream>('id', 'p', { queueTimeoutMs: 20, maxQueue: 10 });
    const connection = new FakeConnection('a');
    route.addConnection(connection);
    const handler = new RecordingHandler();
    const failed = new Promise<void>((resolve) => {
      handler.onError = (error) => {
        handler.errors.push(error);
        resolve();
      };
    });
    route.dispatch(request(), handler);
    await failed;
    expect(handler.errors[0]).to.be.instanceOf(PoolBusyError);
    expect(route.queued).to.equal(0);
  });

  it('aborts a queued request without a stream, and an assigned one through its stream', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    const assigned = route.dispatch(request(), new RecordingHandler());
    const queuedHandler = new RecordingHandler();
    const queued = route.dispatch(request(), queuedHandler);
    queued.abort();
    expect(queuedHandler.errors[0]).to.be.instanceOf(RequestAbortedError);
    expect(route.queued).to.equal(0);
    queued.abort(); // once only
    expect(queuedHandler.errors).to.have.length(1);
    assigned.resume();
    expect(stream.resumed).to.equal(1);
    assigned.abort();
    expect(stream.aborted).to.have.length(1);
  });

  it('withdraws a queued request without telling its handler (to place it elsewhere), and not one a stream took', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    const assigned = route.dispatch(request(), new RecordingHandler());
    const movedHandler = new RecordingHandler();
    const moved = route.dispatch(request(), movedHandler);
    const stays = request();
    const staysHandler = new RecordingHandler();
    const staying = route.dispatch(stays, staysHandler);
    expect([assigned.waiting, moved.waiting, staying.waiting]).to.deep.equal([false, true, true]);
    expect(assigned.withdraw()).to.equal(false);
    expect(moved.withdraw()).to.equal(true);
    expect(moved.waiting).to.equal(false);
    expect(moved.withdraw()).to.equal(false);
    expect(route.queued).to.equal(1);
    moved.abort(); // withdrawn: its new owner aborts it, not the route
    expect(movedHandler.errors).to.deep.equal([]);
    route.settle(stream, OK);
    route.offer(connection, stream);
    expect(stream.assigned.at(-1)).to.equal(stays);
    expect(staying.withdraw()).to.equal(false);
    expect(staysHandler.errors).to.deep.equal([]);
  });

  it('forgets a closed idle stream, and fails the queue when the last connection leaves', () => {
    const connection = new FakeConnection('a');
    const stream = new FakeStream('a1');
    route.addConnection(connection);
    route.offer(connection, stream);
    route.release(connection, stream);
    expect(route.load(connection).idle).to.equal(0);
    const handler = new RecordingHandler();
    route.dispatch(request(), handler);
    expect(route.queued).to.equal(1);
    route.removeConnection(connection);
    expect(handler.errors[0]).to.be.instanceOf(NoAgentError);
    expect(route.connections).to.have.length(0);
  });
});
