import { beforeEach, describe, expect, it } from 'vitest';
import { withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.batch_find_candidates', () => {
  it('finds R1 by phone, R3 by plate inside the hire window and R3B only when no driver on the plate is inside it', async () => {
    await insertDriver(db.pool, { driver_id: 'phone', phone: '51987000701', full_name: 'PAZ ORTIZ EVA' });
    await insertDriver(db.pool, { driver_id: 'in', car_number: 'AAA-111', full_name: 'PAZ ORTIZ EVA', hire_date: '2026-10-20' });
    await insertDriver(db.pool, { driver_id: 'out', car_number: 'BBB-222', full_name: 'PAZ ORTIZ EVA', hire_date: '2025-01-01' });
    await refreshIndex(db.pool);
    const a = await insertLead(db.pool, { park_phone: '987000701', asset_plate_number: 'aaa 111', lead_created_at: '2026-11-01 10:00', first_name: 'Eva', last_name: 'Paz Ortiz' });
    const b = await insertLead(db.pool, { asset_plate_number: 'BBB222', lead_created_at: '2026-11-01 10:00', first_name: 'Eva', last_name: 'Paz Ortiz' });
    await withPlannedBatch(db, async (ctx) => {
      await ctx.client.query(`select ops.batch_leads($1, $2, $3, '51')`, [ctx.runId, ctx.from, ctx.to]);
      await ctx.client.query('select ops.batch_find_candidates(null, -90, 30)');
      const rows = await ctx.rows<{ lead_id: string; rule_no: number; driver_id: string; candidate_person: string }>(
        'select lead_id, rule_no, driver_id, candidate_person from pg_temp.batch_candidates order by lead_id, rule_no');
      expect(rows.filter((r) => r.lead_id === a).map((r) => [r.rule_no, r.driver_id, r.candidate_person])).toEqual([[1, 'phone', 'driver:phone'], [2, 'in', 'driver:in']]);
      expect(rows.filter((r) => r.lead_id === b).map((r) => [r.rule_no, r.driver_id])).toEqual([[3, 'out']]);
    });
  });
});
