import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertRun, rowsOf } from '../../../support/gap.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('ops.v_diag_volume_24h', () => {
  it('has a row of zeros for each of the four worker tasks when nothing ran', async () => {
    const rows = await rowsOf<{ task: string; runs: number; processed: number; leads_per_second: string | null }>(db.pool, 'select * from ops.v_diag_volume_24h order by task');
    expect(rows.map((r) => r.task)).toEqual(['check_identity_gap_alerts', 'refresh_drivers_index', 'retry_identity_matching', 'snapshot_identity_gap']);
    expect(rows.every((r) => r.runs === 0 && r.processed === 0 && r.leads_per_second === null)).toBe(true);
  });

  it('sums the runs of the last 24 h per task and leaves older runs out', async () => {
    await insertRun(db.pool, { hoursAgo: 25, processed: 1000, matched: 1000 });
    await insertRun(db.pool, { hoursAgo: 3, processed: 300, matched: 100, failed: 10, pending: 180, skipped: 10, durationMs: 2000 });
    await insertRun(db.pool, { hoursAgo: 1, processed: 100, matched: 20, failed: 0, pending: 80, skipped: 0, durationMs: 2000 });
    await insertRun(db.pool, { state: 'failed', hoursAgo: 2, error: 'x' });
    await insertRun(db.pool, { state: 'rejected', hoursAgo: 2, error: 'bad' });
    await insertRun(db.pool, { task: 'some_other_task', hoursAgo: 1 });
    const rows = await rowsOf<Record<string, unknown>>(db.pool, 'select * from ops.v_diag_volume_24h where task = $1', ['retry_identity_matching']);
    expect(rows[0]).toMatchObject({ runs: 4, succeeded: 2, failed_runs: 1, rejected: 1, running: 0, processed: 400, matched: 120, failed: 10, pending: 260, skipped: 10 });
    expect(Number(rows[0]!.leads_per_second)).toBe(66.7);
    const other = await rowsOf(db.pool, 'select runs from ops.v_diag_volume_24h where task = $1', ['some_other_task']);
    expect(other).toEqual([{ runs: 1 }]);
  });
});
