import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, lastRun, refreshIndex, resetData, runJob } from '../../../support/fixtures.js';

const db = await useTestDatabase();
beforeEach(async () => resetData(db.pool));

describe('ops.pair_score', () => {
  it("scores round(100 x probability) from the prior and each field's level weight", async () => {
    const { rows } = await db.pool.query(`select ops.pair_score(ops.match_weights_json(), null, 0.66, -90, 30,
        null, 'ABD123', array['MAMANI','QUISPE','ROSA'], '2026-11-01', '987654321', 'ABC123', array['MAMANI','QUISPE','ROSA'], '2026-10-20', 'park-1') as s,
        (select jsonb_object_agg(field || '.' || level, weight) from ops.match_weights) as w`);
    const { s, w } = rows[0];
    expect(s.fields).toEqual({ phone: { level: 'missing', weight: 0 }, plate: { level: 'one_edit', weight: Number(w['plate.one_edit']) },
      name: { level: 'exact', weight: Number(w['name.exact']) }, hire_date: { level: 'exact', weight: Number(w['hire_date.exact']) },
      park: { level: 'missing', weight: 0 } });
    const total = Number(w['prior.any']) + Number(w['plate.one_edit']) + Number(w['name.exact']) + Number(w['hire_date.exact']);
    expect(Number(s.weight)).toBeCloseTo(total, 6);
    expect(s.score).toBe(Math.round(100 / (1 + 2 ** -total)));
  });
});

describe('ops.estimate_match_weights', () => {
  it('refuses to estimate with no links to learn from', async () => {
    await expect(db.pool.query('select * from ops.estimate_match_weights()')).rejects.toThrow(/nothing to estimate from/);
  });

  it("estimates m from the exact rules' links and u from random pairs, keeps rare levels and missing at weight 0, and dates the estimate", async () => {
    for (let i = 0; i < 40; i++) {
      const phone = `98700${String(i).padStart(4, '0')}`;
      await insertDriver(db.pool, { driver_id: `d${i}`, phone: `51${phone}`, car_number: `ABC${100 + i}`, full_name: `QUISPE MAMANI ROSA${'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i % 26]}`, hire_date: '2026-10-20' });
      await insertLead(db.pool, { park_phone: phone, asset_plate_number: `ABC${100 + i}`, first_name: `Rosa${'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i % 26]}`, last_name: 'Quispe Mamani' });
    }
    await refreshIndex(db.pool);
    await runJob(db.url, db.pool, 'retry_identity_matching', {});
    expect((await lastRun(db.pool, 'retry_identity_matching')).matched).toBe(40);
    const before = new Date();
    const { rows } = await db.pool.query('select * from ops.estimate_match_weights(20)');
    const row = (field: string, level: string) => rows.find((r) => r.field === field && r.level === level)!;
    /* Every R1 link has the driver's plate: m(plate exact) = 1, from 40 linked pairs. */
    expect(row('plate', 'exact')).toMatchObject({ method: 'estimated', m_pairs: '40' });
    expect(Number(row('plate', 'exact').m)).toBe(1);
    expect(Number(row('plate', 'exact').weight)).toBeGreaterThan(10);
    /* Never seen among the links: kept. */
    expect(Number(row('plate', 'look_alike').m)).toBe(0.01);
    expect(Number(row('phone', 'missing').weight)).toBe(0);
    expect(row('prior', 'any').method).toBe('estimated');
    expect(Number(row('prior', 'any').m)).toBeCloseTo(1 / 40, 6);
    expect(new Date(row('plate', 'exact').estimated_at).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
  });
});
