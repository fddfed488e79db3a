import { beforeEach, describe, expect, it } from 'vitest';
import { decide, withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertLead, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.batch_job_rows', () => {
  it('counts an attempt and fails a lead that reaches max attempts, the rule ops.record_lead_error uses too', async () => {
    const lead = await insertLead(db.pool, { park_phone: '987000601' });
    await db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, attempt_count, fail_reason) values ($1, 'pending', 4, 'NO_CANDIDATES')`, [lead]);
    await withPlannedBatch(db, async (ctx) => {
      await decide(ctx);
      const counts = (await ctx.client.query('select * from ops.batch_job_rows($1, 5, 60, 1440)', [ctx.runId])).rows[0];
      expect(counts).toEqual({ processed: 1, matched: 0, failed: 1, pending: 0, skipped: 0 });
      expect(await ctx.rows('select status, attempt_count, fail_reason, next_attempt_at from ops.identity_matching_jobs where source_id = $1', [lead])).toEqual([
        { status: 'failed', attempt_count: 5, fail_reason: 'NO_CANDIDATES', next_attempt_at: null },
      ]);
    });
  });
});
