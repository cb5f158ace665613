import { AdminServer, type AdminServerOptions } from '../../lib/gateway/admin/admin-server.js';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/tunnel-harness.js';
import { testPolicy } from '../helpers/test-policy.js';

export const ADMIN_TOKEN = 'admin-token-for-specs-0123456789';

export interface AdminHarness extends Harness {
  admin: AdminServer;
  adminUrl: string;
  /** Calls the admin listener; `token: null` sends no Authorization header. */
  call(method: string, path: string, options?: { body?: unknown; raw?: string; token?: string | null; contentType?: string }): Promise<{ status: number; headers: Headers; body: any }>;
}

/** A real gateway + agent + VCS (tunnel-harness) with an admin listener on 127.0.0.1:0. */
export async function startAdminHarness(options: Partial<HarnessOptions> = {}, admin: Partial<AdminServerOptions> = {}): Promise<AdminHarness> {
  const harness = await startHarness({ policy: testPolicy, ...options });
  const server = new AdminServer({ gateway: harness.gateway, store: harness.store, token: ADMIN_TOKEN, gatewayUrl: harness.gatewayUrl, ...admin });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const adminUrl = `http://127.0.0.1:${address.port}`;
  const close = harness.close.bind(harness);
  return Object.assign(harness, {
    admin: server,
    adminUrl,
    async call(method: string, path: string, init: { body?: unknown; raw?: string; token?: string | null; contentType?: string } = {}) {
      const headers: Record<string, string> = {};
      const token = init.token === undefined ? ADMIN_TOKEN : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.raw !== undefined) body = init.raw;
      else if (init.body !== undefined) body = JSON.stringify(init.body);
      if (body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
      const res = await fetch(`${adminUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (pages, metrics)
      }
      return { status: res.status, headers: res.headers, body: parsed as any };
    },
    async close() {
      server.destroy();
      await close();
    },
  });
}
