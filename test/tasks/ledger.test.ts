import { beforeEach, describe, expect, it } from 'vitest';
import { parseCrontab } from 'graphile-worker';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, lastRun, resetData, runJob } from '../support/fixtures.js';
import { readCrontab } from '../../src/worker.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('tasks through Graphile Worker write the run ledger', () => {
  it('snapshot_identity_gap upserts the day row and records a succeeded run', async () => {
    await insertLead(db.pool, {});
    await runJob(db.url, db.pool, 'snapshot_identity_gap', {});
    const run = await lastRun(db.pool, 'snapshot_identity_gap');
    expect(run).toMatchObject({ state: 'succeeded', trigger: 'sql', error: null });
    const day = await db.pool.query(`select * from ops.identity_gap_daily where snapshot_date = (now() at time zone 'utc')::date`);
    expect(day.rows[0]).toMatchObject({ total_leads: 1, unresolved: 1, no_identity: 1, pct_unresolved: '100.00' });
    await insertLead(db.pool, {});
    await runJob(db.url, db.pool, 'snapshot_identity_gap', {});
    const again = await db.pool.query(`select count(*)::int as n, max(total_leads) as total from ops.identity_gap_daily`);
    expect(again.rows[0]).toEqual({ n: 1, total: 2 });
  });

  it('snapshot_identity_gap writes the row of the date it is given', async () => {
    await runJob(db.url, db.pool, 'snapshot_identity_gap', { date: '2026-01-15' });
    expect((await db.pool.query(`select count(*)::int as n from ops.identity_gap_daily where snapshot_date = '2026-01-15'`)).rows[0].n).toBe(1);
  });

  it('refresh_drivers_index rebuilds the index and records its counts', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51911111111' });
    await runJob(db.url, db.pool, 'refresh_drivers_index');
    const run = await lastRun(db.pool, 'refresh_drivers_index');
    expect(run.state).toBe('succeeded');
    expect(run.stats).toMatchObject({ inserted: 1, total: 1, content_changed: true });
    expect((await db.pool.query('select count(*)::int as n from canon.drivers_index')).rows[0].n).toBe(1);
  });

  it('ignores a _trigger in the payload: a job queued with add_job is recorded as sql, whatever it claims', async () => {
    await runJob(db.url, db.pool, 'snapshot_identity_gap', { _trigger: 'api' });
    expect(await lastRun(db.pool, 'snapshot_identity_gap')).toMatchObject({ state: 'succeeded', trigger: 'sql' });
    await runJob(db.url, db.pool, 'snapshot_identity_gap', { _trigger: 'cli', date: 'bad' });
    expect(await lastRun(db.pool, 'snapshot_identity_gap')).toMatchObject({ state: 'rejected', trigger: 'sql' });
  });

  it('records the trigger ops.enqueue_job was given: sql from ops.enqueue_recovery', async () => {
    const { rows } = await db.pool.query<{ id: string }>('select ops.enqueue_recovery(5) as id');
    await runJob(db.url, db.pool, 'check_identity_gap_alerts', {});
    const run = await db.pool.query('select trigger, state from ops.job_runs where worker_job_id = $1', [rows[0]!.id]);
    expect(run.rows).toEqual([{ trigger: 'sql', state: 'succeeded' }]);
  });

  it('records a crontab-triggered run as trigger cron', async () => {
    await runJob(db.url, db.pool, 'snapshot_identity_gap', { _cron: { ts: new Date().toISOString(), backfilled: false } });
    expect((await lastRun(db.pool, 'snapshot_identity_gap')).trigger).toBe('cron');
  });

  it.each([
    ['snapshot_identity_gap', { date: '25/11/2026' }, /date: must be a date YYYY-MM-DD/],
    ['snapshot_identity_gap', { date: '2024-02-30' }, /date: is not a real calendar date/],
    ['snapshot_identity_gap', { date: '0000-01-01' }, /date: is not a real calendar date/],
    ['retry_identity_matching', { date_from: '0000-01-01' }, /date_from: is not a real calendar date/],
    ['retry_identity_matching', { limit: '0x10' }, /limit: must be a whole number/],
    ['retry_identity_matching', { limit: ' 7 ' }, /limit: must be a whole number/],
    ['refresh_drivers_index', { force: true }, /Unrecognized key.*force/],
    ['check_identity_gap_alerts', [1, 2], /expected object/i],
    ['retry_identity_matching', { batch_size: 'lots' }, /batch_size/],
  ])('rejects an invalid %s payload with the message, and does not retry it', async (task, payload, message) => {
    await runJob(db.url, db.pool, task, payload);
    const run = await lastRun(db.pool, task);
    expect(run.state).toBe('rejected');
    expect(run.error).toMatch(message);
    // runOnce returns before graphile-worker's deletion of the finished job has landed (it is not awaited): poll for it.
    // A job kept for a retry stays in the table with a later run_at, so the count never reaches 0 for it.
    expect(await jobsLeftAfter(task, 10_000)).toBe(0);
  });
});

describe('crontab', () => {
  it('parses, and every entry has an explicit id, a fill and a known task', () => {
    const text = readCrontab();
    const items = parseCrontab(text);
    expect(items.map((i) => i.task).sort()).toEqual(['check_identity_gap_alerts', 'refresh_drivers_index', 'retry_identity_matching', 'snapshot_identity_gap']);
    const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    for (const line of lines) {
      expect(line, line).toMatch(/\?id=[a-z_0-9]+/);
      expect(line, line).toMatch(/fill=\d+[smhdw]/);
    }
    const byTask = Object.fromEntries(items.map((i) => [i.task, i]));
    expect(byTask.retry_identity_matching!.match).toBeDefined();
    expect(text).toMatch(/^0 \*\/6 \* \* \* retry_identity_matching/m);
    expect(text).toMatch(/^55 23 \* \* \* snapshot_identity_gap/m);
    expect(text).toMatch(/^5 \* \* \* \* check_identity_gap_alerts/m);
  });
});

/** The task's jobs left in graphile_worker.jobs: polled until none is, or the time is up (then the count left). */
async function jobsLeftAfter(task: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = $1`, [task]);
    if (rows[0].n === 0 || Date.now() > deadline) return rows[0].n as number;
    await new Promise((r) => setTimeout(r, 50));
  }
}
