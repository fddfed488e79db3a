import { beforeEach, describe, expect, it } from 'vitest';
import { withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertLead, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.replan_batch', () => {
  it('reads again whether each lead of the range has a job row', async () => {
    const lead = await insertLead(db.pool, { park_phone: '987000901' });
    await withPlannedBatch(db, async (ctx) => {
      expect(await ctx.rows('select has_job from ops.recovery_queue where run_id = $1', [ctx.runId])).toEqual([{ has_job: false }]);
      await ctx.client.query(`insert into ops.identity_matching_jobs (source_id, status) values ($1, 'pending')`, [lead]);
      expect((await ctx.client.query('select ops.replan_batch($1, $2, $3) as n', [ctx.runId, ctx.from, ctx.to])).rows[0].n).toBe(1);
      expect(await ctx.rows('select has_job from ops.recovery_queue where run_id = $1', [ctx.runId])).toEqual([{ has_job: true }]);
    });
  });
});
