import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { leadAged, linkLead, person, resolvedLead, rowsOf } from '../../../support/gap.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('ops.v_diag_gap_summary', () => {
  it('gives one row of zeros when there are no leads', async () => {
    const rows = await rowsOf(db.pool, 'select * from ops.v_diag_gap_summary');
    expect(rows).toEqual([{ total_leads: 0, unresolved: 0, resolved: 0, pct_unresolved: '0.00', high_risk: 0, medium_risk: 0, low_risk: 0, repeat_leads: 0 }]);
  });

  it('counts total, unresolved, resolved, % unresolved, the unresolved per risk level and repeat leads', async () => {
    await leadAged(db.pool, 8); // no_identity high
    await leadAged(db.pool, 3); // no_identity medium
    const noOrigin = await leadAged(db.pool, 0); // no_origin low
    await linkLead(db.pool, noOrigin, await person(db.pool));
    const first = await resolvedLead(db.pool, 20);
    const repeat = await leadAged(db.pool, 10);
    await linkLead(db.pool, repeat, first.personKey);
    await resolvedLead(db.pool, 1);
    const [row] = await rowsOf(db.pool, 'select * from ops.v_diag_gap_summary');
    expect(row).toEqual({ total_leads: 6, unresolved: 3, resolved: 3, pct_unresolved: '50.00', high_risk: 1, medium_risk: 1, low_risk: 1, repeat_leads: 1 });
  });

  it('agrees with the history row ops.snapshot_identity_gap writes', async () => {
    await leadAged(db.pool, 8);
    await leadAged(db.pool, 1);
    await resolvedLead(db.pool, 1);
    await db.pool.query('select ops.snapshot_identity_gap()');
    const [live] = await rowsOf<Record<string, unknown>>(db.pool, 'select total_leads, unresolved, resolved, pct_unresolved, high_risk from ops.v_diag_gap_summary');
    const [daily] = await rowsOf<Record<string, unknown>>(db.pool, `select total_leads, unresolved, resolved, pct_unresolved, risk_high as high_risk from ops.identity_gap_daily`);
    expect(live).toEqual(daily);
    expect(live!.pct_unresolved).toBe('66.67');
  });
});
