import { runOnce } from 'graphile-worker';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../../../src/log.js';
import { startWorker, taskList } from '../../../../src/worker.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, lastRun, linkOf, refreshIndex, resetData } from '../../../support/fixtures.js';
import { silentLog } from '../../../support/log.js';
import { GAP_REASONS, RISK_LEVELS, recoveryParamsSchema } from '../../../../src/payloads.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

async function enqueue(limit: number | null, risk: string | null, reason: string | null): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>('select ops.enqueue_recovery($1, $2, $3) as id', [limit, risk, reason]);
  return rows[0]!.id;
}

async function queued() {
  const { rows } = await db.pool.query<{ id: string; task_identifier: string; payload: Record<string, unknown>; key: string | null }>(
    /* The public graphile_worker.jobs view hides payloads; the private table has them. */
    `select jobs.id::text as id, tasks.identifier as task_identifier, jobs.payload, jobs.key
       from graphile_worker._private_jobs as jobs join graphile_worker._private_tasks as tasks on tasks.id = jobs.task_id
      order by jobs.id`);
  return rows;
}

/** 'YYYY-MM-DD HH:MM:SS' `days` days ago, UTC. */
function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().replace('T', ' ').slice(0, 19);
}

describe('ops.enqueue_recovery', () => {
  it('queues a retry_identity_matching job with the arguments as its payload and returns its id', async () => {
    const id = await enqueue(100, 'high', null);
    expect(id).toMatch(/^\d+$/);
    expect(await queued()).toEqual([{ id, task_identifier: 'retry_identity_matching', payload: { limit: 100, risk_level: 'high' }, key: 'retry_identity_matching' }]);
  });

  it('queues an empty payload when called without arguments', async () => {
    await db.pool.query('select ops.enqueue_recovery()');
    expect((await queued()).map((j) => j.payload)).toEqual([{}]);
  });

  it('accepts exactly the risk levels and gap reasons of the payload schema (src/payloads.ts), so what it queues the task accepts', async () => {
    for (const risk of RISK_LEVELS) {
      await enqueue(null, risk, null);
      expect(recoveryParamsSchema.safeParse((await queued()).at(-1)!.payload).success, risk).toBe(true);
    }
    for (const reason of GAP_REASONS) {
      await enqueue(null, null, reason);
      expect(recoveryParamsSchema.safeParse((await queued()).at(-1)!.payload).success, reason).toBe(true);
    }
    for (const [risk, reason] of [['urgent', null], [null, 'resolved'], [null, 'lost']] as const) {
      await expect(enqueue(null, risk, reason)).rejects.toThrow(/must be/);
      expect(recoveryParamsSchema.safeParse({ ...(risk ? { risk_level: risk } : {}), ...(reason ? { gap_reason: reason } : {}) }).success).toBe(false);
    }
  });

  it('does not queue a second run while one is waiting: the same job is updated', async () => {
    const first = await enqueue(100, 'high', null);
    const second = await enqueue(null, null, 'no_origin');
    expect(second).toBe(first);
    expect(await queued()).toEqual([expect.objectContaining({ id: first, payload: { gap_reason: 'no_origin' } })]);
  });

  it.each([
    [0, null, null, /p_limit must be between 1 and 10000000 \(got 0\)/],
    [-5, null, null, /p_limit must be between 1/],
    [null, 'extreme', null, /p_risk_level must be high, medium or low \(got extreme\)/],
    [null, 'HIGH', null, /p_risk_level must be high, medium or low/],
    [null, null, 'resolved', /p_gap_reason must be no_identity, no_origin or inconsistent_origin \(got resolved\)/],
  ] as const)('refuses limit=%s risk_level=%s gap_reason=%s with a clear error and queues nothing', async (limit, risk, reason, message) => {
    const error = await enqueue(limit, risk, reason).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(error?.message).toMatch(message);
    expect(error?.code).toBe('22023');
    expect(await queued()).toEqual([]);
  });

  it('is run by the worker: a succeeded sql-triggered recovery run, then a history row for today', async () => {
    await insertDriver(db.pool, { driver_id: 'drv-1', phone: '+51 987 654 321', full_name: 'PEREZ GOMEZ JUAN' });
    await refreshIndex(db.pool);
    const old = await insertLead(db.pool, { lead_created_at: daysAgo(8), park_phone: '987654321', first_name: 'Juan', last_name: 'Perez' });
    const recent = await insertLead(db.pool, { lead_created_at: daysAgo(0), park_phone: '987654321', first_name: 'Juan', last_name: 'Perez' });
    const jobId = await enqueue(100, 'high', null);
    await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });

    const run = await lastRun(db.pool, 'retry_identity_matching');
    expect(run).toMatchObject({ state: 'succeeded', trigger: 'sql', matched: 1, processed: 1 });
    const { rows: ledger } = await db.pool.query('select params, worker_job_id::text as worker_job_id from ops.job_runs where id = $1', [run.id]);
    expect(ledger[0]).toEqual({ params: { limit: 100, risk_level: 'high' }, worker_job_id: jobId });
    expect(await linkOf(db.pool, old)).toMatchObject({ match_rule: 'R1_PHONE_EXACT' });
    expect(await linkOf(db.pool, recent)).toBeUndefined(); // low risk: outside the high-risk filter

    expect((await lastRun(db.pool, 'snapshot_identity_gap')).state).toBe('succeeded');
    const { rows: daily } = await db.pool.query(
      `select total_leads, unresolved, matched_in_day, runs_in_day from ops.identity_gap_daily where snapshot_date = (now() at time zone 'utc')::date`);
    expect(daily).toEqual([{ total_leads: 2, unresolved: 1, matched_in_day: 1, runs_in_day: 1 }]);
    expect(await queued()).toEqual([]);
  });

  it('is picked up by a running worker: the call from psql is all it takes', async () => {
    await insertDriver(db.pool, { driver_id: 'drv-2', phone: '51911222333', full_name: 'ROJAS DIAZ ANA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { lead_created_at: daysAgo(9), park_phone: '911 222 333', first_name: 'Ana', last_name: 'Rojas' });
    const runner = await startWorker({ connectionString: db.url, concurrency: 1, log: silentLog(), noCron: true, pollInterval: 100 });
    try {
      await enqueue(100, 'high', null);
      const deadline = Date.now() + 20_000;
      let daily: unknown[] = [];
      while (Date.now() < deadline) {
        ({ rows: daily } = await db.pool.query(
          `select runs_in_day, matched_in_day from ops.identity_gap_daily where snapshot_date = (now() at time zone 'utc')::date`));
        if (daily.length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(daily).toEqual([{ runs_in_day: 1, matched_in_day: 1 }]);
      expect(await lastRun(db.pool, 'retry_identity_matching')).toMatchObject({ state: 'succeeded', trigger: 'sql', matched: 1 });
      expect(await linkOf(db.pool, lead)).toMatchObject({ match_rule: 'R1_PHONE_EXACT' });
    } finally {
      await runner.stop();
    }
  });
});
