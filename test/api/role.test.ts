import { runOnce } from 'graphile-worker';
import { afterAll, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/log.js';
import { taskList } from '../../src/worker.js';
import { silentLog } from '../support/log.js';
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

  it('cannot touch Graphile Worker: locking a queue, renaming a task, rescheduling or failing jobs is denied', async () => {
    await db.pool.query(`select graphile_worker.add_job('check_identity_gap_alerts', '{}'::json, queue_name => 'role_test_queue')`);
    for (const sql of [
      `update graphile_worker._private_job_queues set locked_at = now() + interval '4 hours', locked_by = 'api'`,
      `update graphile_worker._private_tasks set identifier = 'renamed_' || identifier`,
      `select graphile_worker.reschedule_jobs(array[1::bigint], run_at => now() + interval '1 year')`,
      `select graphile_worker.permanently_fail_jobs(array[1::bigint], 'stopped by the api')`,
      `select graphile_worker.add_job('retry_identity_matching', '{}'::json)`,
    ]) {
      await expect(apiPool.query(sql), sql).rejects.toThrow(/permission denied/);
    }
    const queues = await db.pool.query(`select locked_at from graphile_worker._private_job_queues where queue_name = 'role_test_queue'`);
    expect(queues.rows).toEqual([{ locked_at: null }]);
  });

  it('queues through the API end to end: the worker runs the job, recorded as trigger api', async () => {
    const api = await startTestApi(db.pool);
    try {
      const res = await api.post('/api/v1/ops/identity-gaps/run-recovery?limit=5');
      expect(res.status).toBe(202);
      const { status_url } = (await res.json()) as { status_url: string };
      await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });
      const status = (await (await api.get(status_url)).json()) as { status: string; run: { trigger: string; task: string } };
      expect(status).toMatchObject({ status: 'succeeded', run: { task: 'retry_identity_matching', trigger: 'api' } });
    } finally {
      await api.app.close();
    }
  });

  it('rejects a role name that is not an identifier', () => {
    expect(() => loadConfig({ API_DB_ROLE: 'idgap_api; drop table x' })).toThrow(/^API_DB_ROLE must be a PostgreSQL role name/);
  });
});
