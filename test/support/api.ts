import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { startApi } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { silentLog } from './log.js';
import { createPool } from '../../src/db.js';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface TestApi {
  app: FastifyInstance;
  base: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, opts?: { token?: string | null; body?: string; headers?: Record<string, string> }): Promise<Response>;
}

/**
 * A real server on an ephemeral port (API_PORT=0) over the test file's database,
 * connected as `idgap start` connects it: as the idgap_api role.
 */
export async function startTestApi(pool: pg.Pool, env: Record<string, string> = { API_TOKEN: TEST_TOKEN }): Promise<TestApi> {
  const config = loadConfig({ API_PORT: '0', API_HOST: '127.0.0.1', ...env });
  const url = (pool as unknown as { options: { connectionString: string } }).options.connectionString;
  const apiPool = createPool(url, 4, 'idgap-test-api', config.API_DB_ROLE || undefined);
  const app = await startApi({ pool: apiPool, config, log: silentLog() });
  const closeApp = app.close.bind(app);
  Object.assign(app, { close: async () => { await closeApp(); await apiPool.end(); } });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    base,
    get: (path, init) => fetch(base + path, init),
    post: (path, opts = {}) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? TEST_TOKEN : opts.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      return fetch(base + path, { method: 'POST', headers, body: opts.body });
    },
  };
}
