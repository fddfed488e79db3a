/**
 * ops.pair_score: the Fellegi-Sunter comparison of a lead and a driver. Each field's level, its weight read from the
 * weights for that level, the total with the prior, and score = round(100 / (1 + 2^-weight)).
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();

/* Weights of every level distinct, so a field scored at the wrong level shows in its weight. */
const weights = {
  prior: { any: -10 },
  phone: { exact: 9, one_edit: 5, different: -3, missing: 0.5 },
  plate: { exact: 8, look_alike: 6, one_edit: 4, different: -2, missing: 0.25 },
  name: { exact: 7, one_edit: 3, different: -1, missing: 0.125 },
  hire_date: { exact: 2, different: -0.5, missing: 0.0625 },
  park: { exact: 1, different: -0.75, missing: 0.03125 },
};

interface Pair {
  park?: string | null;
  leadPhone?: string | null;
  leadPlate?: string | null;
  leadName?: string[] | null;
  leadDate?: string | null;
  driverPhone?: string | null;
  driverPlate?: string | null;
  driverName?: string[] | null;
  hireDate?: string | null;
  driverPark?: string | null;
}

async function score(p: Pair): Promise<{ score: number; weight: number; probability: number; prior_weight: number; fields: Record<string, { level: string; weight: number }> }> {
  const { rows } = await db.pool.query(
    `select ops.pair_score($1::jsonb, $2, 0.8, -30, 30, $3, $4, $5::text[], $6::date, $7, $8, $9::text[], $10::date, $11) as s`,
    [JSON.stringify(weights), p.park === undefined ? 'park-1' : p.park, p.leadPhone ?? null, p.leadPlate ?? null, p.leadName ?? null, p.leadDate ?? null,
     p.driverPhone ?? null, p.driverPlate ?? null, p.driverName ?? null, p.hireDate ?? null, p.driverPark === undefined ? 'park-1' : p.driverPark],
  );
  return rows[0].s;
}

const levels = (s: Awaited<ReturnType<typeof score>>) => Object.fromEntries(Object.entries(s.fields).map(([field, f]) => [field, f.level]));

describe('ops.pair_score', () => {
  it('gives each field its level and the weight of that level, the total with the prior, and the score', async () => {
    const s = await score({
      leadPhone: '987100001', driverPhone: '987100001',
      leadPlate: 'ABC123', driverPlate: 'ABC123',
      leadName: ['ANA', 'PEREZ'], driverName: ['ANA', 'PEREZ'],
      leadDate: '2026-11-01', hireDate: '2026-11-10',
    });
    expect(levels(s)).toEqual({ phone: 'exact', plate: 'exact', name: 'exact', hire_date: 'exact', park: 'exact' });
    expect(s.fields.plate!.weight).toBe(8);
    expect(s.weight).toBe(-10 + 9 + 8 + 7 + 2 + 1);
    expect(s.prior_weight).toBe(-10);
    expect(s.probability).toBeCloseTo(1 / (1 + 2 ** -17), 6);
    expect(s.score).toBe(100);
  });

  it('tells one edit from a different key: a phone digit substituted, plate characters that look alike, another substitution, a swap', async () => {
    expect(levels(await score({ leadPhone: '987100001', driverPhone: '987100071', leadPlate: 'AB0123', driverPlate: 'ABO123' })))
      .toMatchObject({ phone: 'one_edit', plate: 'look_alike' });
    expect(levels(await score({ leadPhone: '987100001', driverPhone: '987100010', leadPlate: 'ABC123', driverPlate: 'ABX123' })))
      .toMatchObject({ phone: 'one_edit', plate: 'one_edit' });
    expect(levels(await score({ leadPhone: '987100001', driverPhone: '912345678', leadPlate: 'ABC123', driverPlate: 'XYZ789' })))
      .toMatchObject({ phone: 'different', plate: 'different' });
    const s = await score({ leadPhone: '987100001', driverPhone: '987100071', leadPlate: 'AB0123', driverPlate: 'ABO123' });
    expect([s.fields.phone!.weight, s.fields.plate!.weight]).toEqual([5, 6]);
  });

  it('scores the name exact, one edit or different against the threshold, and the hire date inside or outside the window', async () => {
    const near = await score({ leadName: ['ANA', 'PERES'], driverName: ['ANA', 'PEREZ'], leadDate: '2026-11-01', hireDate: '2026-12-15' });
    expect(levels(near)).toMatchObject({ name: 'one_edit', hire_date: 'different' });
    expect([near.fields.name!.weight, near.fields.hire_date!.weight]).toEqual([3, -0.5]);
    expect(levels(await score({ leadName: ['LUIS', 'ROJAS'], driverName: ['ANA', 'PEREZ'] }))).toMatchObject({ name: 'different' });
  });

  it('is missing where either side has no value, and the park missing without a target park or different from it', async () => {
    const s = await score({ park: null, leadName: [], driverName: ['ANA'] });
    expect(levels(s)).toEqual({ phone: 'missing', plate: 'missing', name: 'missing', hire_date: 'missing', park: 'missing' });
    expect(s.weight).toBe(-10 + 0.5 + 0.25 + 0.125 + 0.0625 + 0.03125);
    expect(s.score).toBe(Math.round(100 / (1 + 2 ** -s.weight)));
    expect(levels(await score({ driverPark: 'park-2' }))).toMatchObject({ park: 'different' });
    const unweighted = (await db.pool.query(`select ops.pair_score('{}'::jsonb, null, 0.8, -30, 30, null, null, null, null, null, null, null, null, null) as s`)).rows[0].s;
    expect([unweighted.weight, unweighted.score]).toEqual([0, 50]);
  });
});
