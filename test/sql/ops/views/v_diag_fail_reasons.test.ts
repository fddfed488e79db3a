import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertMatchingJob, leadAged, resolvedLead, rowsOf } from '../../../support/gap.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('ops.v_diag_fail_reasons', () => {
  it('is empty when no lead failed', async () => {
    expect(await rowsOf(db.pool, 'select * from ops.v_diag_fail_reasons')).toEqual([]);
  });

  it('gives one row per reason of pending and failed leads, with attempt statistics and shares', async () => {
    for (const [status, reason, attempts] of [
      ['pending', 'NO_CANDIDATES', 1], ['pending', 'NO_CANDIDATES', 3], ['failed', 'NO_CANDIDATES', 5],
      ['failed', 'MISSING_KEYS', 5],
    ] as const) {
      await insertMatchingJob(db.pool, { leadId: await leadAged(db.pool, 3), status, failReason: reason, attempts, nextAttemptHours: status === 'pending' ? attempts : undefined });
    }
    const { leadId, personKey } = await resolvedLead(db.pool, 3);
    await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey });
    const rows = await rowsOf<Record<string, unknown>>(db.pool, 'select fail_reason, leads, pending, failed, pct_of_failing, avg_attempts, max_attempts, next_attempt_at is not null as has_next from ops.v_diag_fail_reasons order by leads desc');
    expect(rows).toEqual([
      { fail_reason: 'NO_CANDIDATES', leads: 3, pending: 2, failed: 1, pct_of_failing: '75.00', avg_attempts: '3.00', max_attempts: 5, has_next: true },
      { fail_reason: 'MISSING_KEYS', leads: 1, pending: 0, failed: 1, pct_of_failing: '25.00', avg_attempts: '5.00', max_attempts: 5, has_next: false },
    ]);
  });
});
