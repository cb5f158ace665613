import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { InvalidOptionError } from '../../lib/errors.js';
import { squidMissingReason, startSquid, type RunningSquid, type SquidOptions } from '../helpers/squid.js';
import { tlsFixtures } from '../helpers/tls-fixtures.js';

/*
 * What the upstream specs (createUpstreamAgent, createUpstreamDispatcher) share: a VCS
 * stand-in that records what reaches it, and small helpers.
 */

export const fixtures = tlsFixtures();
export const VCS_HOST = 'vcs.test';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  remotePort: number;
}

export interface FakeVcs {
  port: number;
  origin: URL;
  seen: SeenRequest[];
  connections: number;
  stop(): Promise<void>;
}

/** A VCS stand-in on 127.0.0.1:0 that records what reaches it and answers "<method> <url>". */
export async function startVcs(secure: boolean): Promise<FakeVcs> {
  const seen: SeenRequest[] = [];
  const handler = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      remotePort: request.socket.remotePort ?? 0,
    });
    response.end(`${request.method} ${request.url}`);
  };
  const server = secure ? https.createServer({ key: fixtures.key, cert: fixtures.cert }, handler) : http.createServer(handler);
  const vcs: FakeVcs = { port: 0, origin: new URL('http://unset'), seen, connections: 0, stop: async () => {} };
  server.on(secure ? 'secureConnection' : 'connection', () => (vcs.connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  vcs.port = (server.address() as AddressInfo).port;
  vcs.origin = new URL(`${secure ? 'https' : 'http'}://${VCS_HOST}:${vcs.port}`);
  vcs.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return vcs;
}

export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

export function proxyWithCredentials(squid: RunningSquid, user: string, password: string): URL {
  const url = new URL(squid.url);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url;
}

/** Runs each attempt, expects an InvalidOptionError from each, and returns the options they named. */
export function rejectedOptions(attempts: Array<() => unknown>): string[] {
  return attempts.map((attempt) => {
    try {
      attempt();
    } catch (error) {
      expect(error).to.be.instanceOf(InvalidOptionError);
      return (error as InvalidOptionError).option;
    }
    throw new Error('expected an InvalidOptionError');
  });
}

/**
 * Registers before/after hooks that start a real squid (skipping the suite without one) and
 * an https VCS stand-in for the suite's tests; read them through the returned getters.
 */
export function withSquidAndVcs(options: SquidOptions): { squid(): RunningSquid; vcs(): FakeVcs } {
  let squid: RunningSquid | null = null;
  let vcs: FakeVcs | undefined;
  before(async function () {
    if (squidMissingReason() !== undefined) this.skip();
    squid = await startSquid(options);
    if (squid === null) this.skip();
    vcs = await startVcs(true);
  });
  after(async () => {
    await squid?.stop();
    await vcs?.stop();
  });
  return {
    squid: () => squid as RunningSquid,
    vcs: () => vcs as FakeVcs,
  };
}
