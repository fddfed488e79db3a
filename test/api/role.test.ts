import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db.js';
import { loadConfig } from '../../src/config.js';
import { useTestDatabase } from '../support/db.js';
import { startTestApi } from '../support/api.js';

const db = await useTestDatabase();
const config = loadConfig({});
const apiPool = createPool(db.url, 1, 'idgap-role-test', config.API_DB_ROLE);
afterAll(async () => apiPool.end());

describe('the API connects with least privilege', () => {
  it('runs as idgap_api by default, which cannot read raw personal data', async () => {
    expect(config.API_DB_ROLE).toBe('idgap_api');
    expect((await apiPool.query('select current_user as u')).rows[0].u).toBe('idgap_api');
    await expect(apiPool.query('select * from public.drivers limit 1')).rejects.toThrow(/permission denied/);
    await expect(apiPool.query('select * from public.module_ct_cabinet_leads limit 1')).rejects.toThrow(/permission denied/);
    await expect(apiPool.query('delete from ops.job_runs')).rejects.toThrow(/permission denied/);
  });

  it('serves reads and queues jobs under that role', async () => {
    const api = await startTestApi(db.pool);
    try {
      expect((await api.get('/api/v1/ops/identity-gaps')).status).toBe(200);
      expect((await api.get('/api/v1/ops/identity-gaps/fail-reasons')).status).toBe(200);
      expect((await api.get('/metrics')).status).toBe(200);
      expect((await api.post('/api/v1/identity/drivers-index/refresh')).status).toBe(202);
    } finally {
      await api.app.close();
    }
  });

  it('rejects a role name that is not an identifier', () => {
    expect(() => loadConfig({ API_DB_ROLE: 'idgap_api; drop table x' })).toThrow(/^API_DB_ROLE must be a PostgreSQL role name/);
  });
});
