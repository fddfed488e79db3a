/**
 * The writing steps of a batch, one by one: ops.batch_register_new_persons, ops.batch_driver_links,
 * ops.batch_lead_links, ops.batch_new_person_origins, ops.batch_existing_origins, ops.batch_link_findings,
 * ops.batch_record_counts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { decide, withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../../../support/fixtures.js';
import { linkLead } from '../../../support/gap.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('the writing steps', () => {
  it('create one person per driver with its DRIVER_MATCH link, link the leads, and put the origin on the earliest lead', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000801', full_name: 'PAZ ORTIZ EVA' });
    await refreshIndex(db.pool);
    const later = await insertLead(db.pool, { park_phone: '987000801', lead_created_at: '2026-11-02 10:00' });
    const earlier = await insertLead(db.pool, { park_phone: '987000801', lead_created_at: '2026-11-01 10:00' });
    await withPlannedBatch(db, async (ctx) => {
      await decide(ctx);
      await ctx.client.query('select ops.batch_register_new_persons()');
      expect((await ctx.client.query('select ops.batch_driver_links($1) as n', [ctx.runId])).rows[0].n).toBe(1);
      expect((await ctx.client.query('select ops.batch_lead_links($1, null) as n', [ctx.runId])).rows[0].n).toBe(2);
      await ctx.client.query('select ops.batch_new_person_origins($1)', [ctx.runId]);
      expect(await ctx.rows(`select source_table, source_pk, match_rule, match_score, confidence_level from canon.identity_links order by source_table, source_pk`)).toEqual([
        { source_table: 'drivers', source_pk: 'd1', match_rule: 'DRIVER_MATCH', match_score: 100, confidence_level: 'HIGH' },
        ...[earlier, later].sort().map((lead) => ({ source_table: 'module_ct_cabinet_leads', source_pk: lead, match_rule: 'R1_PHONE_EXACT', match_score: 95, confidence_level: 'HIGH' })),
      ]);
      expect(await ctx.rows('select origin_tag, origin_source_id from canon.identity_origin')).toEqual([{ origin_tag: 'cabinet_lead', origin_source_id: earlier }]);
      expect(await ctx.rows('select count(distinct person_key)::int as n from canon.identity_links')).toEqual([{ n: 1 }]);
    });
  });

  it('derive an existing person\'s origin again, record the finding, and add the batch to the run\'s counts', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000802', full_name: 'PAZ ORTIZ EVA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987000802' });
    const key = '0190f0a0-0000-7000-8000-00000000f001';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [key]);
    await linkLead(db.pool, lead, key);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'migration', 'm-1')`, [key]);
    await withPlannedBatch(db, async (ctx) => {
      await decide(ctx);
      await ctx.client.query('select ops.batch_existing_origins($1)', [ctx.runId]);
      expect(await ctx.rows('select origin_tag, origin_source_id from canon.identity_origin')).toEqual([{ origin_tag: 'cabinet_lead', origin_source_id: lead }]);
      expect(await ctx.rows('select old_origin_tag, new_origin_tag, change_reason from canon.identity_origin_history')).toEqual([
        { old_origin_tag: 'migration', new_origin_tag: 'cabinet_lead', change_reason: 'origin_upgraded' }]);
      expect((await ctx.client.query('select ops.batch_link_findings($1) as n', [ctx.runId])).rows[0].n).toBe(1);
      expect(await ctx.rows('select lead_id, other_driver_id, match_rule from ops.v_identity_link_findings')).toEqual([{ lead_id: lead, other_driver_id: 'd1', match_rule: 'R1_PHONE_EXACT' }]);
      await ctx.client.query(`select ops.batch_record_counts($1, 1, 1, 0, 0, 0, '{"leads": 2.5}')`, [ctx.runId]);
      const run = (await ctx.client.query('select processed, matched, stats from ops.job_runs where id = $1', [ctx.runId])).rows[0];
      expect(run).toMatchObject({ processed: 1, matched: 1, stats: { step_ms: { leads: 2.5 }, reasons: { REPAIR: 1 } } });
    });
  });
});
