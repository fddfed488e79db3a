import { beforeEach, describe, expect, it } from 'vitest';
import { decide, withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_candidates, ops.review_decisions');
});

describe('ops.batch_review_candidates', () => {
  it('replaces the rows of every lead of the batch: ranked candidates for the leads left to review, none for the others', async () => {
    await insertDriver(db.pool, { driver_id: 'a', phone: '51987000001', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'b', phone: '987000001', full_name: 'VEGA SOTO MARIO' });
    await insertDriver(db.pool, { driver_id: 'c', phone: '51987000002', full_name: 'PAZ ORTIZ EVA' });
    await refreshIndex(db.pool);
    const ambiguous = await insertLead(db.pool, { park_phone: '987000001', first_name: 'Luis', last_name: 'Rojas Paz' });
    const linked = await insertLead(db.pool, { park_phone: '987000002' });
    /* Rows a former run left for the lead that now links: replaced by none. */
    await db.pool.query(`insert into ops.lead_candidates (lead_id, candidate_rank, driver_id, match_rule, score, queue_reason)
                         values ($1, 1, 'c', 'R1_PHONE_EXACT', 50, 'MULTIPLE_CANDIDATES')`, [linked]);
    /* The rows of a lead outside the batch stay. */
    await db.pool.query(`insert into ops.lead_candidates (lead_id, candidate_rank, driver_id, match_rule, score, queue_reason)
                         values ('outside-the-batch', 1, 'c', 'R1_PHONE_EXACT', 50, 'WEAK_MATCH_ONLY')`);
    await withPlannedBatch(db, async (ctx) => {
      await decide(ctx);
      const written = await ctx.rows<{ n: number }>(`select ops.batch_review_candidates($1, null, -90, 30, 0.66) as n`, [ctx.runId]);
      expect(written[0]!.n).toBe(2);
      const rows = await ctx.rows<{ lead_id: string; candidate_rank: number; driver_id: string; match_rule: string; score: number; queue_reason: string; evidence: any; run_id: string }>(
        `select * from ops.lead_candidates where lead_id <> 'outside-the-batch' order by lead_id, candidate_rank`);
      expect((await ctx.rows(`select driver_id from ops.lead_candidates where lead_id = 'outside-the-batch'`)).map((r) => r.driver_id)).toEqual(['c']);
      expect(rows.map((r) => [r.lead_id, r.candidate_rank, r.driver_id, r.match_rule, r.queue_reason])).toEqual([
        [ambiguous, 1, 'a', 'R1_PHONE_EXACT', 'MULTIPLE_CANDIDATES'], [ambiguous, 2, 'b', 'R1_PHONE_EXACT', 'MULTIPLE_CANDIDATES']]);
      /* The name agrees with a, not with b: a ranks first, on the match_score scale. */
      expect(rows[0]!.score).toBeGreaterThan(rows[1]!.score);
      expect(rows[0]!.evidence.fields.name.level).toBe('exact');
      expect(rows[1]!.evidence.fields.name.level).toBe('different');
      expect(rows[0]!.evidence.fields.phone.level).toBe('exact');
      expect(Number(rows[0]!.run_id)).toBe(ctx.runId);
    });
  });
});
