import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../support/db.js';
import { leadAged, linkLead, person, resolvedLead, rowsOf, setOrigin } from '../../support/gap.js';
import { GAP_DATASET_TOTALS, insertGapDataset } from '../../support/gap_dataset.js';

/*
 * Issue 15 item 4: one definition each. The gap reason of a lead lives in
 * ops.gap_reason, read by the view over every lead and by the recovery's
 * per-lead ops.lead_gap_state; the gap totals live in ops.identity_gap_totals.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

/** The views and functions of canon and ops whose definition contains `pattern` (case-insensitive regex). */
async function objectsDefining(pattern: string): Promise<string[]> {
  const rows = await rowsOf<{ name: string }>(
    db.pool,
    `select format('%s.%s', namespaces.nspname, procs.proname) as name
     from pg_catalog.pg_proc as procs
     join pg_catalog.pg_namespace as namespaces on namespaces.oid = procs.pronamespace
     where namespaces.nspname in ('canon', 'ops') and procs.prokind = 'f' and pg_catalog.pg_get_functiondef(procs.oid) ~* $1
     union all
     select format('%s.%s', views.schemaname, views.viewname)
     from pg_catalog.pg_views as views
     where views.schemaname in ('canon', 'ops') and views.definition ~* $1
     order by 1`,
    [pattern],
  );
  return rows.map((r) => r.name);
}

describe('the gap reason of a lead', () => {
  it('is written in one place, ops.gap_reason, which the analysis view and ops.lead_gap_state read', async () => {
    // The rule is the CASE that names the reasons in its THEN branches.
    expect(await objectsDefining(`then\\s+'no_identity'`)).toEqual(['ops.gap_reason']);
    expect(await objectsDefining(`then\\s+'inconsistent_origin'`)).toEqual(['ops.gap_reason']);
    expect(await objectsDefining(`ops\\.gap_reason\\(`)).toEqual(expect.arrayContaining(['ops.lead_gap_state', 'ops.v_identity_gap_analysis']));
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

describe('the gap totals', () => {
  it('are computed in one place, ops.identity_gap_totals: no other view, function or TypeScript module computes a percentage of the leads', async () => {
    // ops.v_diag_fail_reasons computes another figure (a reason's share of the failing leads).
    expect(await objectsDefining(`100\\.0\\s*\\*`)).toEqual(['ops.identity_gap_totals', 'ops.v_diag_fail_reasons']);
    const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(10);
    expect(sources.filter((f) => /100\.0\s*\*/.test(readFileSync(path.join(SRC, f), 'utf8')))).toEqual([]);
  });

  it('give the figures of the dataset, risk levels counted among the unresolved leads only', async () => {
    await insertGapDataset(db.pool);
    const [totals] = await rowsOf<Record<string, unknown>>(db.pool, `select totals.*, totals.pct_unresolved::float8 as pct_unresolved from ops.v_identity_gap_totals as totals`);
    const { total, ...rest } = GAP_DATASET_TOTALS;
    expect(totals).toMatchObject({ total_leads: total, ...rest });
    const cells = totals!.cells as Array<{ gap_reason: string; risk_level: string; leads: number }>;
    expect(cells).toHaveLength(12);
    expect(cells.reduce((n, c) => n + c.leads, 0)).toBe(total);
    expect(cells.filter((c) => c.gap_reason === 'resolved').map((c) => c.leads)).toEqual([0, 0, GAP_DATASET_TOTALS.resolved]);
  });

  it('of a date window count only the leads dated inside it', async () => {
    await leadAged(db.pool, 30);
    await leadAged(db.pool, null);
    const inside = await leadAged(db.pool, 3);
    await linkLead(db.pool, inside, await person(db.pool));
    await resolvedLead(db.pool, 2);
    const [row] = await rowsOf<Record<string, unknown>>(
      db.pool,
      `select totals.total_leads, totals.unresolved, totals.resolved, totals.pct_unresolved, totals.no_origin, totals.risk_medium
       from ops.identity_gap_totals((now() at time zone 'utc')::date - 5, (now() at time zone 'utc')::date) as totals`,
    );
    expect(row).toEqual({ total_leads: 2, unresolved: 1, resolved: 1, pct_unresolved: '50.00', no_origin: 1, risk_medium: 1 });
  });
});

describe('canon.identity_origin_history.change_reason', () => {
  const insertHistory = async (reason: string) => {
    const personKey = await person(db.pool);
    await setOrigin(db.pool, personKey, 'lead-1');
    return db.pool.query(
      `insert into canon.identity_origin_history (person_key, old_origin_tag, new_origin_tag, old_source_id, new_source_id, changed_by, change_reason)
       values ($1, null, 'cabinet_lead', null, 'lead-1', 'system', $2)`,
      [personKey, reason],
    );
  };

  it('takes the values the recovery writes and manual', async () => {
    for (const reason of ['origin_created', 'origin_corrected', 'origin_upgraded', 'manual']) await insertHistory(reason);
    const [row] = await rowsOf(db.pool, 'select count(*)::integer as rows from canon.identity_origin_history');
    expect(row).toEqual({ rows: 4 });
  });

  it('refuses an unknown value', async () => {
    await expect(insertHistory('origin_deleted')).rejects.toMatchObject({ code: '23514', constraint: 'identity_origin_history_change_reason_check' });
    await expect(insertHistory('Origin_Created')).rejects.toMatchObject({ code: '23514' });
  });

  it('lists every value the SQL of the recovery writes', async () => {
    // Every literal the engine's functions write into change_reason, read from their definitions.
    const rows = await rowsOf<{ reason: string }>(
      db.pool,
      `select distinct matches[1] as reason
       from pg_catalog.pg_proc as procs
       join pg_catalog.pg_namespace as namespaces on namespaces.oid = procs.pronamespace
       cross join lateral regexp_matches(pg_catalog.pg_get_functiondef(procs.oid), '''(origin_[a-z_]+)''', 'g') as matches
       where namespaces.nspname in ('canon', 'ops') and procs.prokind = 'f'
       order by 1`,
    );
    const [check] = await rowsOf<{ definition: string }>(
      db.pool,
      `select pg_catalog.pg_get_constraintdef(constraints.oid) as definition
       from pg_catalog.pg_constraint as constraints
       where constraints.conname = 'identity_origin_history_change_reason_check'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const { reason } of rows) expect(check!.definition).toContain(`'${reason}'`);
  });
});
