import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertDaily, rowsOf } from '../../../support/gap.js';

interface TrendRow { period: string; days: number; pct_unresolved_now: string | null; pct_unresolved_then: string | null; pct_unresolved_change: string | null; unresolved_change: number | null; matched_in_period: number; runs_in_period: number; direction: string }

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

const trend = async () => Object.fromEntries((await rowsOf<TrendRow>(db.pool, 'select * from ops.v_identity_gap_trend order by days')).map((r) => [r.period, r]));

describe('ops.v_identity_gap_trend', () => {
  it('has the 1d, 7d and 30d rows, all unknown without history', async () => {
    const t = await trend();
    expect(Object.keys(t)).toEqual(['1d', '7d', '30d']);
    expect(Object.values(t).every((r) => r.direction === 'unknown' && r.pct_unresolved_now === null && r.matched_in_period === 0)).toBe(true);
  });

  it('compares today with yesterday, 7 and 30 days ago and sums the matches in between', async () => {
    await insertDaily(db.pool, 30, { pct: 50, matched: 1000, runs: 4 });
    await insertDaily(db.pool, 7, { pct: 20, matched: 100, runs: 4 });
    await insertDaily(db.pool, 3, { pct: 12, matched: 30, runs: 4 });
    await insertDaily(db.pool, 1, { pct: 9, matched: 20, runs: 4 });
    await insertDaily(db.pool, 0, { pct: 10, matched: 5, runs: 1 });
    const t = await trend();
    expect(t['1d']).toMatchObject({ pct_unresolved_now: '10.00', pct_unresolved_then: '9.00', pct_unresolved_change: '1.00', unresolved_change: 1, direction: 'up', matched_in_period: 5, runs_in_period: 1 });
    expect(t['7d']).toMatchObject({ pct_unresolved_then: '20.00', pct_unresolved_change: '-10.00', unresolved_change: -10, direction: 'down', matched_in_period: 55, runs_in_period: 9 });
    expect(t['30d']).toMatchObject({ pct_unresolved_then: '50.00', direction: 'down', matched_in_period: 155, runs_in_period: 13 });
  });

  it('says flat when the gap did not move and unknown when the reference day is missing', async () => {
    await insertDaily(db.pool, 1, { pct: 10 });
    await insertDaily(db.pool, 0, { pct: 10 });
    await insertDaily(db.pool, 8, { pct: 30 });
    const t = await trend();
    expect(t['1d']!.direction).toBe('flat');
    expect(t['7d']).toMatchObject({ direction: 'unknown', pct_unresolved_then: null, pct_unresolved_change: null });
  });

  it('says no_history on the first day of history, and for a period longer than the history, as gap_trend does', async () => {
    await insertDaily(db.pool, 0, { pct: 10 });
    const first = await trend();
    expect(Object.values(first).map((r) => r.direction)).toEqual(['no_history', 'no_history', 'no_history']);
    const health = await rowsOf<{ status: string; hint: string }>(db.pool, `select status, hint from ops.v_identity_gap_health where "check" = 'gap_trend'`);
    expect(health[0]).toMatchObject({ status: 'ok', hint: expect.stringMatching(/^No history yet/) });
    await insertDaily(db.pool, 2, { pct: 12 });
    const young = await trend();
    expect(young['1d']).toMatchObject({ direction: 'unknown', pct_unresolved_then: null });
    expect(young['7d']!.direction).toBe('no_history');
    expect(young['30d']!.direction).toBe('no_history');
  });

  it('says unknown when today has no snapshot yet', async () => {
    await insertDaily(db.pool, 1, { pct: 10 });
    expect((await trend())['1d']).toMatchObject({ direction: 'unknown', pct_unresolved_now: null, pct_unresolved_then: '10.00' });
  });
});
