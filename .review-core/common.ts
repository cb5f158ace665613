export { startHarness } from '../spec/helpers/tunnel-harness.js';
export { testPolicy } from '../spec/helpers/test-policy.js';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T | string> {
  return Promise.race([p, new Promise<string>((r) => setTimeout(() => r(`TIMEOUT(${label}, ${ms}ms)`), ms).unref())]);
}
export function stats(h: any) { return JSON.stringify(h.gateway.poolStats().map((s: any) => ({ busy: s.streamsBusy, idle: s.streamsIdle, q: s.queued, c: s.connections }))) + ' agent=' + JSON.stringify(h.client.streamCounts); }
