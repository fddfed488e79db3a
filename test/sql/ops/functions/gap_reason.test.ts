import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { resolvedLead, rowsOf } from '../../../support/gap.js';
import { GAP_DATASET_TOTALS, insertGapDataset, objectsDefining } from '../../../support/gap_dataset.js';

/*
 * Issue 15 item 4: the gap reason of a lead has one definition, ops.gap_reason,
 * read by the view over every lead and by the recovery's per-lead
 * ops.lead_gap_state.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('the gap reason of a lead', () => {
  it('is written in one place, ops.gap_reason, which the gap view (ops.v_identity_gap_leads, under the analysis view) and ops.lead_gap_state read', async () => {
    // The rule is the CASE that names the reasons in its THEN branches.
    expect(await objectsDefining(db.pool, `then\\s+'no_identity'`)).toEqual(['ops.gap_reason']);
    expect(await objectsDefining(db.pool, `then\\s+'inconsistent_origin'`)).toEqual(['ops.gap_reason']);
    expect(await objectsDefining(db.pool, `ops\\.gap_reason\\(`)).toEqual(expect.arrayContaining(['ops.lead_gap_state', 'ops.v_identity_gap_leads']));
    // The analysis view is the gap view without the leads' keys: it reads the same definition.
    expect(await objectsDefining(db.pool, `ops\\.v_identity_gap_leads`)).toEqual(expect.arrayContaining(['ops.v_identity_gap_analysis']));
  });

  it('is the same in the view over every lead and in the per-lead read of the recovery, for every kind of lead', async () => {
    await insertGapDataset(db.pool);
    const rows = await rowsOf<{ lead_id: string; view_reason: string; state_reason: string }>(
      db.pool,
      `select analysis.lead_id, analysis.gap_reason as view_reason, state.gap_reason as state_reason
       from ops.v_identity_gap_analysis as analysis
       cross join lateral ops.lead_gap_state(analysis.lead_id, true) as state
       order by analysis.lead_id`,
    );
    expect(rows).toHaveLength(GAP_DATASET_TOTALS.total);
    for (const row of rows) expect(row.state_reason, row.lead_id).toBe(row.view_reason);
    const reasons = rows.reduce<Record<string, number>>((n, r) => ({ ...n, [r.view_reason]: (n[r.view_reason] ?? 0) + 1 }), {});
    expect(reasons).toEqual({
      no_identity: GAP_DATASET_TOTALS.no_identity,
      no_origin: GAP_DATASET_TOTALS.no_origin,
      inconsistent_origin: GAP_DATASET_TOTALS.inconsistent_origin,
      resolved: GAP_DATASET_TOTALS.resolved,
    });
  });

  it('classifies from the linked person, the origin tag and the origin lead\'s person', async () => {
    const cases = await rowsOf<Record<string, string | null>>(
      db.pool,
      `select ops.gap_reason(null, null, null) as no_link,
              ops.gap_reason('00000000-0000-0000-0000-000000000001', null, null) as no_origin,
              ops.gap_reason('00000000-0000-0000-0000-000000000001', 'migration', null) as other_tag,
              ops.gap_reason('00000000-0000-0000-0000-000000000001', 'cabinet_lead', null) as origin_lead_unlinked,
              ops.gap_reason('00000000-0000-0000-0000-000000000001', 'cabinet_lead', '00000000-0000-0000-0000-000000000002') as origin_lead_elsewhere,
              ops.gap_reason('00000000-0000-0000-0000-000000000001', 'cabinet_lead', '00000000-0000-0000-0000-000000000001') as resolved`,
    );
    expect(cases).toEqual([{ no_link: 'no_identity', no_origin: 'no_origin', other_tag: 'no_origin', origin_lead_unlinked: 'inconsistent_origin', origin_lead_elsewhere: 'inconsistent_origin', resolved: 'resolved' }]);
  });

  it('is null in ops.lead_gap_state for a lead that does not exist, whatever its links', async () => {
    const { leadId } = await resolvedLead(db.pool, 1);
    const rows = await rowsOf(db.pool, `select state.gap_reason from ops.lead_gap_state($1, false) as state`, [leadId]);
    expect(rows).toEqual([{ gap_reason: null }]);
  });

  it('is inlined by the planner into both readers: no function call is left in their plans', async () => {
    const planOf = async (sql: string, params: unknown[] = []) =>
      JSON.stringify((await db.pool.query(`explain (verbose, format json) ${sql}`, params)).rows);
    const view = await planOf(`select analysis.gap_reason from ops.v_identity_gap_analysis as analysis`);
    const state = await planOf(`select state.gap_reason from unnest(array['a', 'b']) as leads (lead_id) cross join lateral ops.lead_gap_state(leads.lead_id, true) as state`);
    for (const plan of [view, state]) {
      expect(plan).not.toMatch(/gap_reason\(/);
      expect(plan).toMatch(/THEN 'inconsistent_origin'::text/);
    }
  });
});

