import { beforeEach, describe, expect, it } from 'vitest';
import { decide, withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../../../support/fixtures.js';
import { linkLead } from '../../../support/gap.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.batch_decide', () => {
  it('takes the rule\'s name, score and confidence from the rule catalogue (ops.match_rules)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000501', full_name: 'PAZ ORTIZ EVA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987000501' });
    await db.pool.query(`update ops.match_rules set score = 90 where match_rule = 'R1_PHONE_EXACT'`);
    try {
      await withPlannedBatch(db, async (ctx) => {
        await decide(ctx);
        expect(await ctx.rows('select lead_id, decision, match_rule, match_score, confidence_level, named_person from pg_temp.batch_decisions')).toEqual([
          { lead_id: lead, decision: 'LINK', match_rule: 'R1_PHONE_EXACT', match_score: 90, confidence_level: 'HIGH', named_person: 'driver:d1' },
        ]);
        expect(await ctx.rows('select driver_id, confidence_level from pg_temp.batch_new_persons')).toEqual([{ driver_id: 'd1', confidence_level: 'HIGH' }]);
      });
    } finally {
      await db.pool.query(`update ops.match_rules set score = 95 where match_rule = 'R1_PHONE_EXACT'`);
    }
  });

  it('repairs a linked lead (REPAIR) and keeps the other person matching names as its finding', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000502', full_name: 'PAZ ORTIZ EVA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987000502' });
    const key = '0190f0a0-0000-7000-8000-00000000e001';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [key]);
    await linkLead(db.pool, lead, key);
    await withPlannedBatch(db, async (ctx) => {
      await decide(ctx);
      expect(await ctx.rows('select decision, person_key::text, finding_person from pg_temp.batch_decisions')).toEqual([
        { decision: 'REPAIR', person_key: key, finding_person: 'driver:d1' },
      ]);
      expect(await ctx.rows('select count(*)::int as n from pg_temp.batch_new_persons')).toEqual([{ n: 0 }]);
    });
  });

  it('refuses a match_rule that is not in the catalogue (foreign key)', async () => {
    const key = '0190f0a0-0000-7000-8000-00000000e002';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [key]);
    await expect(db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ($1, 'drivers', 'x', 'R9_GUESS', 100, 'HIGH')`, [key])).rejects.toMatchObject({ code: '23503' });
  });
});
