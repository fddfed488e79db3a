import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runOnce } from 'graphile-worker';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../support/fixtures.js';
import { silentLog } from '../support/log.js';
import { startTestApi, TEST_TOKEN, type TestApi } from '../support/api.js';
import { taskList } from '../../src/worker.js';
import { graphileLogger } from '../../src/log.js';

const db = await useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  silentLog();
  api = await startTestApi(db.pool);
});
afterAll(async () => api?.app.close());
beforeEach(async () => resetData(db.pool));

const json = (res: Response): Promise<any> => res.json();
const RECOVERY = '/api/v1/ops/identity-gaps/run-recovery';

async function queuedJobs(task: string) {
  const { rows } = await db.pool.query<{ id: string; payload: Record<string, unknown>; key: string | null; queue_name: string | null; locked_at: Date | null }>(
    `select jobs.id, private.payload, jobs.key, jobs.queue_name, jobs.locked_at
     from graphile_worker.jobs as jobs join graphile_worker._private_jobs as private on private.id = jobs.id
     where jobs.task_identifier = $1 order by jobs.id`,
    [task],
  );
  return rows;
}

/** Lets Graphile Worker run everything queued, as the worker of `idgap start` would. */
async function work(): Promise<void> {
  await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });
}

describe('write endpoints need the API token', () => {
  it('refuses a request without a token with 401', async () => {
    const res = await api.post(RECOVERY, { token: null });
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({ error: 'unauthorized' });
    expect(await queuedJobs('retry_identity_matching')).toEqual([]);
  });

  it('refuses a wrong token, including one of another length, with 401', async () => {
    for (const token of [TEST_TOKEN.replace(/.$/, 'X'), 'short', `${TEST_TOKEN}extra`]) {
      const res = await api.post('/api/v1/identity/drivers-index/refresh', { token });
      expect(res.status).toBe(401);
    }
    const basic = await api.post(RECOVERY, { token: null, headers: { authorization: `Basic ${TEST_TOKEN}` } });
    expect(basic.status).toBe(401);
    expect(await queuedJobs('refresh_drivers_index')).toEqual([]);
  });

  it('answers 403 with a hint when the server has no API_TOKEN', async () => {
    const readOnly = await startTestApi(db.pool, {});
    try {
      const res = await readOnly.post(RECOVERY, { token: TEST_TOKEN });
      expect(res.status).toBe(403);
      expect(await json(res)).toMatchObject({ error: 'forbidden', hint: 'set API_TOKEN to enable write endpoints' });
      expect((await readOnly.get('/api/v1/ops/identity-gaps')).status).toBe(200);
    } finally {
      await readOnly.app.close();
    }
  });
});

describe('POST /api/v1/ops/identity-gaps/run-recovery', () => {
  it('queues retry_identity_matching with the parameters and trigger api, and answers 202', async () => {
    const res = await api.post(`${RECOVERY}?limit=100&risk_level=high&gap_reason=no_identity&date_from=2026-01-01&date_to=2026-12-31&batch_size=50&refresh_index=true`);
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body).toMatchObject({ task: 'retry_identity_matching', run_id: null, already_queued: false, running: false });
    expect(body.status_url).toBe(`/api/v1/ops/jobs/${body.job_id}`);
    const jobs = await queuedJobs('retry_identity_matching');
    expect(jobs).toHaveLength(1);
    expect(Number(jobs[0]!.id)).toBe(body.job_id);
    expect(jobs[0]!.payload).toEqual({ limit: 100, risk_level: 'high', gap_reason: 'no_identity', date_from: '2026-01-01', date_to: '2026-12-31', batch_size: 50, refresh_index: true });
    expect((await db.pool.query('select trigger from ops.job_triggers where job_id = $1', [body.job_id])).rows).toEqual([{ trigger: 'api' }]);
    expect(jobs[0]).toMatchObject({ key: 'retry_identity_matching', queue_name: 'retry_identity_matching' });
    const status = await json(await api.get(body.status_url));
    expect(status).toMatchObject({ job_id: body.job_id, status: 'queued', run_id: null, run: null });
  });

  it('does not queue a second run while one is waiting: the answer says already_queued', async () => {
    const first = await json(await api.post(`${RECOVERY}?limit=10`));
    const second = await api.post(`${RECOVERY}?limit=20`);
    expect(second.status).toBe(202);
    const body = await json(second);
    expect(body).toMatchObject({ job_id: first.job_id, already_queued: true, running: false });
    const jobs = await queuedJobs('retry_identity_matching');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.payload).toMatchObject({ limit: 20 });
  });

  it('queues a new run behind one that is running, in the same serial queue, and says running', async () => {
    const first = await json(await api.post(RECOVERY));
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test-worker' where id = $1`, [first.job_id]);
    const body = await json(await api.post(RECOVERY));
    expect(body).toMatchObject({ already_queued: false, running: true, running_job_id: first.job_id });
    expect(body.job_id).not.toBe(first.job_id);
    const jobs = await queuedJobs('retry_identity_matching');
    expect(jobs.map((j) => [Number(j.id), j.key, j.queue_name])).toEqual([
      [first.job_id, null, 'retry_identity_matching'],
      [body.job_id, 'retry_identity_matching', 'retry_identity_matching'],
    ]);
    expect((await json(await api.get(`/api/v1/ops/jobs/${first.job_id}`))).status).toBe('running');
  });

  it('records the run with trigger api once the worker has run the job, visible through jobs/:id and runs/:id', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await insertLead(db.pool, { park_phone: '+51 987 654 321', first_name: 'Rosa', last_name: 'Quispe' });
    await refreshIndex(db.pool);
    const queued = await json(await api.post(`${RECOVERY}?batch_size=10`));
    await work();
    const status = await json(await api.get(queued.status_url));
    expect(status).toMatchObject({ job_id: queued.job_id, status: 'succeeded' });
    expect(status.run).toMatchObject({ task: 'retry_identity_matching', trigger: 'api', state: 'succeeded', processed: 1, matched: 1, worker_job_id: queued.job_id, params: { batch_size: 10 } });
    expect(status.run_id).toBe(status.run.id);
    const run = await json(await api.get(`/api/v1/ops/runs/${status.run_id}`));
    expect(run).toMatchObject({ id: status.run_id, state: 'succeeded', trigger: 'api', matched: 1 });
    const list = await json(await api.get('/api/v1/ops/runs?task=retry_identity_matching&state=succeeded'));
    expect(list.items.map((r: { id: number }) => r.id)).toEqual([status.run_id]);
  });

  it.each([
    ['?limit=0', 'limit'],
    ['?limit=ten', 'limit'],
    ['?risk_level=extreme', 'risk_level'],
    ['?gap_reason=resolved', 'gap_reason'],
    ['?date_from=2026-02-30', 'date_from'],
    ['?date_from=0000-01-01', 'date_from'],
    ['?date_to=2023-02-29', 'date_to'],
    ['?limit=0x10', 'limit'],
    ['?limit=1e3', 'limit'],
    ['?limit=%207%20', 'limit'],
    ['?batch_size=1.5', 'batch_size'],
    ['?date_from=2026-03-02&date_to=2026-03-01', 'date_from'],
    ['?batch_size=100001', 'batch_size'],
    ['?refresh_index=yes', 'refresh_index'],
    ['?priority=1', 'priority'],
  ])('answers 400 naming the parameter for %s and queues nothing', async (query, param) => {
    const res = await api.post(`${RECOVERY}${query}`);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toBe('bad_request');
    expect(body.message).toMatch(new RegExp(`^${param}: `));
    expect(await queuedJobs('retry_identity_matching')).toEqual([]);
  });

  it('says what is wrong with a parameter in words', async () => {
    expect((await json(await api.post(`${RECOVERY}?limit=ten`))).message).toBe('limit: must be a whole number');
    expect((await json(await api.post(`${RECOVERY}?risk_level=extreme`))).message).toBe('risk_level: must be high, medium or low');
    expect((await json(await api.post(`${RECOVERY}?priority=1`))).message).toBe('priority: unknown parameter');
  });

  it('refuses a JSON body: parameters go in the query string', async () => {
    const res = await api.post(RECOVERY, { body: JSON.stringify({ limit: 5 }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await json(res)).message).toMatch(/^body: /);
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const res = await api.post(RECOVERY, { body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(await json(res)).toMatchObject({ error: 'payload_too_large' });
  });
});

describe('POST /api/v1/identity/drivers-index/refresh', () => {
  it('queues refresh_drivers_index (202) and the worker records the run with trigger api', async () => {
    await insertDriver(db.pool, { driver_id: 'd9', phone: '51911111111' });
    const res = await api.post('/api/v1/identity/drivers-index/refresh');
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body).toMatchObject({ task: 'refresh_drivers_index', run_id: null, already_queued: false });
    expect((await queuedJobs('refresh_drivers_index')).map((j) => Number(j.id))).toEqual([body.job_id]);
    await work();
    const status = await json(await api.get(body.status_url));
    expect(status, JSON.stringify(status)).toMatchObject({ status: 'succeeded', run: { task: 'refresh_drivers_index', trigger: 'api', state: 'succeeded' } });
    const { rows } = await db.pool.query('select count(*)::int as n from canon.drivers_index');
    expect(rows[0].n).toBe(1);
  });

  it('answers 400 for a query parameter it does not take', async () => {
    const res = await api.post('/api/v1/identity/drivers-index/refresh?full=1');
    expect(res.status).toBe(400);
    expect((await json(res)).message).toBe('full: unknown parameter');
  });
});

describe('GET /api/v1/ops/identity-gaps/freshness', () => {
  it('says NEVER before any recovery succeeded, OK after one, STALE when the last success is older than 24 h', async () => {
    expect(await json(await api.get('/api/v1/ops/identity-gaps/freshness'))).toMatchObject({ status: 'NEVER', last_success_at: null, runs_24h: 0, matched_24h: 0 });
    await db.pool.query(`select ops.finish_run(ops.start_run('retry_identity_matching', 'cli', '{}'), 'failed', '{}', 'boom')`);
    expect((await json(await api.get('/api/v1/ops/identity-gaps/freshness'))).status).toBe('NEVER');
    const { rows } = await db.pool.query<{ id: string }>(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`);
    await db.pool.query(`select ops.finish_run($1, 'succeeded', '{}', null)`, [rows[0]!.id]);
    expect(await json(await api.get('/api/v1/ops/identity-gaps/freshness'))).toMatchObject({ status: 'OK', runs_24h: 2 });
    await db.pool.query(`update ops.job_runs set started_at = now() - interval '30 hours', finished_at = now() - interval '29 hours' where id = $1`, [rows[0]!.id]);
    const stale = await json(await api.get('/api/v1/ops/identity-gaps/freshness'));
    expect(stale).toMatchObject({ status: 'STALE', stale_hours: 24 });
    expect(stale.hours_since_last_success).toBeGreaterThanOrEqual(29);
  });
});

describe('GET runs and jobs', () => {
  it('answers 404 JSON for an unknown run or job, 400 for an id that is not a positive integer', async () => {
    expect((await api.get('/api/v1/ops/runs/999999')).status).toBe(404);
    const job = await api.get('/api/v1/ops/jobs/999999');
    expect(job.status).toBe(404);
    expect(await json(job)).toMatchObject({ error: 'not_found' });
    for (const path of ['/api/v1/ops/runs/abc', '/api/v1/ops/runs/1.5', '/api/v1/ops/runs/-3', '/api/v1/ops/runs/0']) {
      const res = await api.get(path);
      expect(res.status, path).toBe(400);
      expect((await json(res)).message).toMatch(/^id: /);
    }
    expect((await json(await api.get('/api/v1/ops/jobs/x1'))).message).toMatch(/^job_id: /);
  });

  it('derives a job status from the queue and the ledger: running, retrying, failed, succeeded', async () => {
    const { rows } = await db.pool.query<{ id: string }>(`select id from graphile_worker.add_job('refresh_drivers_index', '{}'::json, max_attempts => 2)`);
    const jobId = rows[0]!.id;
    const status = async () => (await json(await api.get(`/api/v1/ops/jobs/${jobId}`))).status as string;
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w', attempts = 1 where id = $1`, [jobId]);
    expect(await status()).toBe('running');
    await db.pool.query(`select ops.finish_run(ops.start_run('refresh_drivers_index', 'api', '{}', $1), 'failed', '{}', 'boom')`, [jobId]);
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = null, locked_by = null where id = $1`, [jobId]);
    expect(await status()).toBe('retrying');
    await db.pool.query(`update graphile_worker._private_jobs set attempts = 2 where id = $1`, [jobId]);
    expect(await status()).toBe('failed');
    // a second attempt that succeeded decides, even while Graphile has not deleted the job yet
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w' where id = $1`, [jobId]);
    await db.pool.query(`select ops.finish_run(ops.start_run('refresh_drivers_index', 'api', '{}', $1), 'succeeded', '{}', null)`, [jobId]);
    expect(await status()).toBe('succeeded');
  });

  it('lists the last runs newest first, limited by limit', async () => {
    for (let i = 0; i < 3; i++) await db.pool.query(`select ops.finish_run(ops.start_run('snapshot_identity_gap', 'cli', '{}'), 'succeeded', '{}', null)`);
    const body = await json(await api.get('/api/v1/ops/runs?limit=2'));
    expect(body.items).toHaveLength(2);
    expect(body.items[0].id).toBeGreaterThan(body.items[1].id);
    expect(body.items[0]).toMatchObject({ task: 'snapshot_identity_gap', trigger: 'cli', state: 'succeeded' });
  });

  it.each([
    ['?limit=0', 'limit'],
    ['?limit=201', 'limit'],
    ['?state=done', 'state'],
    ['?task=Robert%27);drop', 'task'],
    ['?sort=id', 'sort'],
  ])('runs answers 400 naming the parameter for %s', async (query, param) => {
    const res = await api.get(`/api/v1/ops/runs${query}`);
    expect(res.status).toBe(400);
    expect((await json(res)).message).toMatch(new RegExp(`^${param}: `));
  });
});
