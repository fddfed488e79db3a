import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { leadAged, linkLead, person, resolvedLead, rowsOf, setOrigin } from '../../../support/gap.js';

interface Cell { gap_reason: string; reason_order: number; risk_level: string; risk_rank: number; leads: number; oldest_lead_date: string | null; max_age_days: number | null; unknown_date_leads: number }

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

const grid = () => rowsOf<Cell>(db.pool, 'select * from ops.v_diag_gap_breakdown order by reason_order, risk_rank desc');

describe('ops.v_diag_gap_breakdown', () => {
  it('always has the nine reason x risk cells, zeros included', async () => {
    const rows = await grid();
    expect(rows.map((r) => `${r.gap_reason}/${r.risk_level}`)).toEqual([
      'no_identity/high', 'no_identity/medium', 'no_identity/low',
      'no_origin/high', 'no_origin/medium', 'no_origin/low',
      'inconsistent_origin/high', 'inconsistent_origin/medium', 'inconsistent_origin/low',
    ]);
    expect(rows.every((r) => r.leads === 0 && r.max_age_days === null)).toBe(true);
  });

  it('counts unresolved leads per cell with their oldest date and largest age, leaving resolved leads out', async () => {
    await leadAged(db.pool, 9);
    await leadAged(db.pool, 7);
    await leadAged(db.pool, null);
    await leadAged(db.pool, 0);
    const noOrigin = await leadAged(db.pool, 4);
    await linkLead(db.pool, noOrigin, await person(db.pool));
    const other = await resolvedLead(db.pool, 30);
    const inconsistent = await leadAged(db.pool, 1);
    const p = await person(db.pool);
    await linkLead(db.pool, inconsistent, p);
    await setOrigin(db.pool, p, other.leadId);
    const rows = await grid();
    const cell = (reason: string, risk: string) => rows.find((r) => r.gap_reason === reason && r.risk_level === risk)!;
    expect(cell('no_identity', 'high')).toMatchObject({ leads: 2, max_age_days: 9, unknown_date_leads: 0 });
    expect(cell('no_identity', 'medium')).toMatchObject({ leads: 1, max_age_days: null, oldest_lead_date: null, unknown_date_leads: 1 });
    expect(cell('no_identity', 'low')).toMatchObject({ leads: 1, max_age_days: 0 });
    expect(cell('no_origin', 'medium')).toMatchObject({ leads: 1, max_age_days: 4 });
    expect(cell('inconsistent_origin', 'high')).toMatchObject({ leads: 1, max_age_days: 1 });
    expect(rows.reduce((n, r) => n + r.leads, 0)).toBe(6);
    const [oldest] = await rowsOf<{ d: string }>(db.pool, `select ((now() at time zone 'utc')::date - 9)::text as d`);
    expect(cell('no_identity', 'high').oldest_lead_date).toBe(oldest!.d);
  });
});
