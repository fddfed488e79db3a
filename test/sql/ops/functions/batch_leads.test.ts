import { beforeEach, describe, expect, it } from 'vitest';
import { withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertLead, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.batch_leads', () => {
  it('takes the range\'s queue rows and normalises each lead\'s keys with the drivers index\'s functions', async () => {
    const lead = await insertLead(db.pool, { park_phone: '+51 987 654 321', asset_plate_number: 'abc-123', first_name: 'Ana' });
    await withPlannedBatch(db, async (ctx) => {
      const taken = (await ctx.client.query('select ops.batch_leads($1, $2, $3, $4) as n', [ctx.runId, ctx.from, ctx.to, '51'])).rows[0].n;
      expect(taken).toBe(1);
      expect(await ctx.rows('select lead_id, phone_norm, plate_norm, lead_found, gap_reason, job_id from pg_temp.batch_leads')).toEqual([
        { lead_id: lead, phone_norm: '987654321', plate_norm: 'ABC123', lead_found: true, gap_reason: 'no_identity', job_id: null },
      ]);
      expect(await ctx.rows('select count(*)::int as n from ops.recovery_queue where run_id = $1', [ctx.runId])).toEqual([{ n: 0 }]);
    });
  });

  it('reads the keys the plan carried in the queue (the ones its component was formed on), and normalises a row queued without them', async () => {
    const planned = await insertLead(db.pool, { park_phone: '987654321', asset_plate_number: 'abc-123' });
    const unkeyed = await insertLead(db.pool, { park_phone: '0051 987 000 111', asset_plate_number: 'xy 9' });
    await withPlannedBatch(db, async (ctx) => {
      expect(await ctx.rows('select lead_id, phone_norm, plate_norm from ops.recovery_queue where run_id = $1 order by lead_id', [ctx.runId]))
        .toEqual([{ lead_id: planned, phone_norm: '987654321', plate_norm: 'ABC123' }, { lead_id: unkeyed, phone_norm: '987000111', plate_norm: 'XY9' }]
          .sort((x, y) => x.lead_id.localeCompare(y.lead_id)));
      // The lead changed after the plan: the batch keeps the plan's keys; a row queued by hand has none and is normalised.
      await ctx.client.query(`update public.module_ct_cabinet_leads set park_phone = '999999999' where coalesce(external_id, id::text) = $1`, [planned]);
      await ctx.client.query('update ops.recovery_queue set phone_norm = null, plate_norm = null where run_id = $1 and lead_id = $2', [ctx.runId, unkeyed]);
      await ctx.client.query('select ops.batch_leads($1, $2, $3, $4)', [ctx.runId, ctx.from, ctx.to, '51']);
      expect(await ctx.rows('select lead_id, phone_norm, plate_norm from pg_temp.batch_leads order by lead_id'))
        .toEqual([{ lead_id: planned, phone_norm: '987654321', plate_norm: 'ABC123' }, { lead_id: unkeyed, phone_norm: '987000111', plate_norm: 'XY9' }]
          .sort((x, y) => x.lead_id.localeCompare(y.lead_id)));
    });
  });
});
