import { beforeEach, describe, expect, it } from 'vitest';
import { withPlannedBatch } from '../../../support/batch_steps.js';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, refreshIndex, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.recovery_near_pairs, ops.review_decisions');
});
const ROSA = { full_name: 'QUISPE MAMANI ROSA', hire_date: '2026-10-20' };
const rosa = { first_name: 'Rosa', last_name: 'Quispe Mamani' };

describe('ops.plan_near_pairs (in ops.plan_recovery)', () => {
  it('finds the same pairs and plans the same queue in two parts on two connections as in one call', async () => {
    /* Near plates and phones for leads of both parities of prio, names agreeing or not. */
    for (let i = 0; i < 12; i++) {
      await insertDriver(db.pool, { driver_id: `p${i}`, car_number: `KLM${100 + i}`, full_name: i % 3 ? 'QUISPE MAMANI ROSA' : 'VEGA SOTO MARIO', hire_date: '2026-10-20' });
      await insertDriver(db.pool, { driver_id: `f${i}`, phone: `519870004${10 + i}`, ...ROSA });
    }
    await refreshIndex(db.pool);
    for (let i = 0; i < 12; i++) {
      await insertLead(db.pool, { asset_plate_number: `KLN${100 + i}`, ...rosa });
      await insertLead(db.pool, { park_phone: `9870004${10 + i}`.replace(/(\d)(\d)$/, '$2$1'), ...rosa });
    }
    const plan = async (parts: 1 | 2) => {
      const client = await db.pool.connect();
      const second = await db.pool.connect();
      try {
        const runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
        await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
        await client.query('select ops.plan_recovery_leads($1, null, null, null, null, null, 7)', [runId]);
        const near = (await client.query('select count(*)::int as n from ops.recovery_near_leads where run_id = $1', [runId])).rows[0].n;
        if (parts === 2) {
          await Promise.all([client.query('select ops.plan_near_pairs($1, 0, 2)', [runId]), second.query('select ops.plan_near_pairs($1, 1, 2)', [runId])]);
          /* A part found again (the runner's fallback after a lost connection) replaces its pairs. */
          await client.query('select ops.plan_near_pairs($1, 1, 2)', [runId]);
        } else {
          await client.query('select ops.plan_near_pairs($1)', [runId]);
        }
        const queued = (await client.query('select ops.plan_recovery_components($1, 7) as n', [runId])).rows[0].n;
        const pairs = (await client.query('select lead_id, rule_no, driver_id, key_level from ops.recovery_near_pairs where run_id = $1 order by 1, 2, 3', [runId])).rows;
        const queue = (await client.query('select seq, lead_id, component, batch_no from ops.recovery_queue where run_id = $1 order by seq', [runId])).rows;
        const left = (await client.query(`select count(*)::int as n from ops.recovery_near_leads where run_id = $1`, [runId])).rows[0].n;
        const temp = (await client.query(`select to_regclass('pg_temp.plan_due') is null as gone`)).rows[0].gone;
        await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
        await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
        return { near, queued, pairs, queue: queue.map(({ seq, lead_id, component, batch_no }) => ({ seq, lead_id, component, batch_no })), left, temp };
      } finally {
        client.release();
        second.release();
      }
    };
    const one = await plan(1);
    const two = await plan(2);
    /* 24 leads, 3 of whose swapped phones are a driver's own (an exact candidate): 21 in the work list. */
    expect(one.near).toBe(21);
    expect(two.near).toBe(21);
    expect(one.pairs.length).toBeGreaterThanOrEqual(16);
    expect(two.pairs).toEqual(one.pairs);
    expect(two.queue).toEqual(one.queue);
    expect(two.queued).toBe(one.queued);
    /* The work list is emptied and the plan's temporary tables dropped by the last phase. */
    expect([one.left, two.left, one.temp, two.temp]).toEqual([0, 0, true, true]);
  });

  it('refuses a part outside 0 .. parts - 1, and the last phase without the first', async () => {
    await expect(db.pool.query('select ops.plan_near_pairs(1, 2, 2)')).rejects.toMatchObject({ code: '22023' });
    await expect(db.pool.query('select ops.plan_near_pairs(1, 0, 0)')).rejects.toMatchObject({ code: '22023' });
    await expect(db.pool.query('select ops.plan_recovery_components(1, 10)')).rejects.toMatchObject({ code: '55000' });
  });

  it('stores the near pairs whose name agrees for the leads the exact rules may leave without a person, and puts them into one component', async () => {
    await insertDriver(db.pool, { driver_id: 'near', car_number: 'ABC124', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'other', car_number: 'ABC125', full_name: 'VEGA SOTO MARIO' });
    await insertDriver(db.pool, { driver_id: 'exact', car_number: 'ABC124', phone: '51987000001', ...ROSA });
    await refreshIndex(db.pool);
    const typo = await insertLead(db.pool, { asset_plate_number: 'ABC123', ...rosa });
    const exactPhone = await insertLead(db.pool, { park_phone: '987000001', asset_plate_number: 'ABC123', ...rosa });
    const namedByPlate = await insertLead(db.pool, { asset_plate_number: 'ABC124', ...rosa });
    await withPlannedBatch(db, async (ctx) => {
      const pairs = await ctx.rows<{ lead_id: string; rule_no: number; driver_id: string; key_level: string }>(
        'select lead_id, rule_no, driver_id, key_level from ops.recovery_near_pairs where run_id = $1 order by driver_id', [ctx.runId]);
      /* Not the driver whose name disagrees; not for the lead with an exact phone, nor the one whose plate names a person. */
      expect(pairs).toEqual([{ lead_id: typo, rule_no: 4, driver_id: 'exact', key_level: 'one_edit' }, { lead_id: typo, rule_no: 4, driver_id: 'near', key_level: 'one_edit' }]);
      const queue = await ctx.rows<{ lead_id: string; component: number }>('select lead_id, component from ops.recovery_queue where run_id = $1', [ctx.runId]);
      const component = (lead: string) => queue.find((q) => q.lead_id === lead)!.component;
      expect(component(typo)).toBe(component(namedByPlate));
      expect(component(typo)).toBe(component(exactPhone));
    });
  });

  it('keeps no pair for a lead one edit from more than near_max_pairs drivers (a block of consecutive phones), and its pairs with a higher cap', async () => {
    /* 40 drivers of one name with consecutive phones 987000100-987000139, and 10 leads 987000140-987000149 without a
       driver of their own: lead 98700014d is one digit from 98700010d, 11d, 12d and 13d (and a swap from 9870001d4). */
    await db.pool.query(`insert into public.drivers (driver_id, park_id, phone, full_name, hire_date)
      select 'block' || n, 'park-1', '51' || (987000100 + n)::text, 'QUISPE MAMANI ROSA', date '2026-10-20' from generate_series(0, 39) as n`);
    await insertDriver(db.pool, { driver_id: 'lonely', phone: '51912345678', ...ROSA });
    await refreshIndex(db.pool);
    await db.pool.query(`insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name)
      select 'crowd' || n, timestamp '2026-11-01 10:00', (987000140 + n)::text, 'Rosa', 'Quispe Mamani' from generate_series(0, 9) as n`);
    const typo = await insertLead(db.pool, { park_phone: '912345679', ...rosa });
    const pairsPerLead = (ctx: { runId: number; rows: <T>(sql: string, params?: unknown[]) => Promise<T[]> }) =>
      ctx.rows<{ lead_id: string; n: number }>(
        'select lead_id, count(*)::int as n from ops.recovery_near_pairs where run_id = $1 group by lead_id order by lead_id', [ctx.runId]);
    await db.pool.query(`update ops.settings set value = '3' where key = 'near_max_pairs'`);
    try {
      await withPlannedBatch(db, async (ctx) => {
        /* The crowded leads keep none; the typo of a phone only one driver is near keeps its pair. */
        expect(await pairsPerLead(ctx)).toEqual([{ lead_id: typo, n: 1 }]);
      });
      await db.pool.query(`update ops.settings set value = '1000' where key = 'near_max_pairs'`);
      await withPlannedBatch(db, async (ctx) => {
        const pairs = await pairsPerLead(ctx);
        expect(pairs).toHaveLength(11);
        for (const p of pairs.filter((x) => x.lead_id !== typo)) expect(p.n).toBeGreaterThanOrEqual(4);
      });
    } finally {
      await db.pool.query(`update ops.settings set value = '10' where key = 'near_max_pairs'`);
    }
  });

  it('keeps no pair for a lead whose key shares a one-deletion variant with more than 5 x near_max_pairs keys, however few of them agree', async () => {
    /* Lead phone 987000150: drivers 98700015x (x 1-9) and 9870001x0 (x 0-4, 6-9) share a variant with it: 18 keys, of
       which only two have the lead's name. */
    await db.pool.query(`insert into public.drivers (driver_id, park_id, phone, full_name, hire_date)
      select 'dense' || k, 'park-1', '51' || k::text, case when k in (987000151, 987000160) then 'QUISPE MAMANI ROSA' else 'VEGA SOTO MARIO ' || k end, date '2026-10-20'
      from (select 987000150 + x as k from generate_series(1, 9) as x union all select 987000100 + 10 * x from generate_series(0, 9) as x where x <> 5) as keys`);
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987000150', ...rosa });
    const pairs = async () => {
      let found: string[] = [];
      await withPlannedBatch(db, async (ctx) => {
        found = (await ctx.rows<{ driver_id: string }>('select driver_id from ops.recovery_near_pairs where run_id = $1 and lead_id = $2 order by 1', [ctx.runId, lead])).map((r) => r.driver_id);
      });
      return found;
    };
    /* 5 x 10 = 50 keys allowed: the two drivers whose name agrees are its pairs. */
    expect(await pairs()).toEqual(['dense987000151', 'dense987000160']);
    await db.pool.query(`update ops.settings set value = '3' where key = 'near_max_pairs'`);
    try {
      /* 5 x 3 = 15 < 18 keys: crowded, no pair, although only two drivers agree (fewer than the cap of 3). */
      expect(await pairs()).toEqual([]);
    } finally {
      await db.pool.query(`update ops.settings set value = '10' where key = 'near_max_pairs'`);
    }
  });
});

describe('ops.batch_near_candidates (in ops.batch_find_candidates)', () => {
  it('scores the near candidates of leads the exact rules leave without a person and gives one verdict per lead', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'XYZ789', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd3', car_number: 'XYZ788', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd4', car_number: 'JKL456', full_name: 'QUISPE MAMANI ROSAURA', hire_date: '2026-10-20' });
    await refreshIndex(db.pool);
    const plate = await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosa });
    const namesakes = await insertLead(db.pool, { asset_plate_number: 'XYZ787', ...rosa });
    const misspelt = await insertLead(db.pool, { asset_plate_number: 'JKL456', first_name: 'Rosaura', last_name: 'Qispe Mamani' });
    await withPlannedBatch(db, async (ctx) => {
      await ctx.client.query(`select ops.batch_leads($1, $2, $3, '51')`, [ctx.runId, ctx.from, ctx.to]);
      await ctx.client.query('select ops.batch_find_candidates(null, -90, 30)');
      const near = await ctx.rows<{ lead_id: string; rule_no: number; driver_id: string; score: number; evidence: any }>(
        'select lead_id, rule_no, driver_id, score, evidence from pg_temp.batch_near order by lead_id, driver_id');
      expect(near.filter((n) => n.lead_id === plate).map((n) => [n.rule_no, n.driver_id])).toEqual([[4, 'd1']]);
      expect(near.filter((n) => n.lead_id === namesakes).map((n) => [n.rule_no, n.driver_id])).toEqual([[4, 'd2'], [4, 'd3']]);
      expect(near.filter((n) => n.lead_id === misspelt).map((n) => [n.rule_no, n.driver_id])).toEqual([[6, 'd4']]);
      const first = near.find((n) => n.lead_id === plate)!;
      expect(first.evidence.score).toBe(first.score);
      expect(first.evidence.fields.plate).toMatchObject({ level: 'one_edit' });
      const verdicts = await ctx.rows<{ lead_id: string; verdict: string; top_person: string; score: number }>(
        'select lead_id, verdict, top_person, score from pg_temp.batch_near_rules order by lead_id');
      const verdict = (lead: string) => verdicts.find((v) => v.lead_id === lead);
      expect(verdict(plate)).toMatchObject({ verdict: 'named', top_person: 'driver:d1' });
      expect(verdict(namesakes)?.verdict).toBe('ambiguous');
      expect(verdict(misspelt)).toMatchObject({ verdict: 'named', top_person: 'driver:d4' });
    });
  });

  it('finds nothing with near_keys_enabled = 0', async () => {
    await db.pool.query(`update ops.settings set value = '0' where key = 'near_keys_enabled'`);
    try {
      await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
      await refreshIndex(db.pool);
      await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosa });
      await withPlannedBatch(db, async (ctx) => {
        await ctx.client.query(`select ops.batch_leads($1, $2, $3, '51')`, [ctx.runId, ctx.from, ctx.to]);
        await ctx.client.query('select ops.batch_find_candidates(null, -90, 30)');
        expect(await ctx.rows('select * from pg_temp.batch_near')).toEqual([]);
        expect(await ctx.rows('select * from pg_temp.batch_near_rules')).toEqual([]);
      });
    } finally {
      await db.pool.query(`update ops.settings set value = '1' where key = 'near_keys_enabled'`);
    }
  });
});
