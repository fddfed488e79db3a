import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertRun, rowsOf } from '../../../support/gap.js';

interface Freshness {
  last_success_run_id: string | null; last_success_at: Date | null; hours_since_last_success: string | null;
  runs_24h: number; succeeded_runs_24h: number; failed_runs_24h: number; running_now: number; matched_24h: number; processed_24h: number;
  last_run_id: string | null; last_run_state: string | null; last_run_error: string | null; stale_threshold_hours: string; status: string;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

const freshness = async () => (await rowsOf<Freshness>(db.pool, 'select * from ops.v_diag_freshness'))[0]!;

describe('ops.v_diag_freshness', () => {
  it('says NEVER, with zero counts, when recovery never ran', async () => {
    const rows = await rowsOf<Freshness>(db.pool, 'select * from ops.v_diag_freshness');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'NEVER', last_success_at: null, hours_since_last_success: null, runs_24h: 0, matched_24h: 0, last_run_state: null, stale_threshold_hours: '24' });
  });

  it('says NEVER when runs only failed, and shows the last error', async () => {
    await insertRun(db.pool, { state: 'failed', hoursAgo: 2, error: 'connection refused' });
    expect(await freshness()).toMatchObject({ status: 'NEVER', runs_24h: 1, failed_runs_24h: 1, last_run_state: 'failed', last_run_error: 'connection refused' });
  });

  it('says STALE when the last success is more than 24 h old', async () => {
    const id = await insertRun(db.pool, { hoursAgo: 25, matched: 9 });
    const f = await freshness();
    expect(f).toMatchObject({ status: 'STALE', last_success_run_id: String(id), runs_24h: 0, matched_24h: 0 });
    expect(Number(f.hours_since_last_success)).toBeCloseTo(25, 1);
  });

  it('says OK at 23 h and counts the runs and matches of the last 24 h', async () => {
    await insertRun(db.pool, { hoursAgo: 30, matched: 100, processed: 100 });
    await insertRun(db.pool, { hoursAgo: 23, matched: 5, processed: 50 });
    await insertRun(db.pool, { hoursAgo: 2, matched: 7, processed: 20 });
    await insertRun(db.pool, { state: 'rejected', hoursAgo: 1, error: 'invalid payload' });
    await insertRun(db.pool, { state: 'running', hoursAgo: 0.1 });
    await insertRun(db.pool, { task: 'refresh_drivers_index', hoursAgo: 1 });
    const f = await freshness();
    expect(f).toMatchObject({ status: 'OK', runs_24h: 4, succeeded_runs_24h: 2, failed_runs_24h: 1, running_now: 1, matched_24h: 12, processed_24h: 70, last_run_state: 'running' });
    expect(Number(f.hours_since_last_success)).toBeCloseTo(2, 1);
  });

  it('uses the alert_job_stale_hours setting for STALE', async () => {
    await insertRun(db.pool, { hoursAgo: 5 });
    await db.pool.query(`update ops.settings set value = '4' where key = 'alert_job_stale_hours'`);
    expect(await freshness()).toMatchObject({ status: 'STALE', stale_threshold_hours: '4' });
  });
});
