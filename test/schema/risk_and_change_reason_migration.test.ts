import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { leadAged, person, resolvedLead, rowsOf } from '../support/gap.js';

/*
 * Issue 18 item 8: the risk counts of ops.identity_gap_daily count unresolved
 * leads only. The migration that says so converts the rows written before it
 * (every resolved lead was counted low), and, with the change_reason check of
 * issue 15 item 4, keeps what it cannot interpret. The test puts a clone of
 * the migrated database back into the state before the migration (without the
 * two checks), writes rows as the old snapshot wrote them, and runs the
 * migration's SQL again.
 */
const COMMITTED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations/committed');
const MIGRATION = readdirSync(COMMITTED).find((f) => /^\d{6}-one-meaning-for-risk-counts/.test(f));
const body = () => readFileSync(path.join(COMMITTED, MIGRATION!), 'utf8').replace(/^--!.*\n/gm, '');

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query(`truncate ops.identity_gap_daily;
    alter table ops.identity_gap_daily drop constraint if exists identity_gap_daily_risk_of_unresolved_check;
    alter table canon.identity_origin_history drop constraint if exists identity_origin_history_change_reason_check`);
});

/** Runs the migration in one transaction, as graphile-migrate does; returns its notices. */
async function migrate(): Promise<string[]> {
  const client = await db.pool.connect();
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  try {
    await client.query('begin');
    await client.query(body());
    await client.query('commit');
  } finally {
    client.release();
  }
  return notices;
}

async function daily(date: string, d: { total: number; unresolved: number; high: number; medium: number; low: number }): Promise<void> {
  await db.pool.query(
    `insert into ops.identity_gap_daily (snapshot_date, total_leads, unresolved, resolved, pct_unresolved, no_identity, no_origin,
                                        inconsistent_origin, risk_high, risk_medium, risk_low, matched_in_day, runs_in_day)
     values ($1::date, $2::integer, $3::integer, $2::integer - $3::integer, round(100.0 * $3::integer / $2::integer, 2), $3::integer, 0, 0, $4, $5, $6, 0, 0)`,
    [date, d.total, d.unresolved, d.high, d.medium, d.low],
  );
}
const risks = () => rowsOf(db.pool, `select snapshot_date::text as day, risk_high, risk_medium, risk_low from ops.identity_gap_daily order by snapshot_date`);
const validated = async (name: string) =>
  (await rowsOf<{ convalidated: boolean }>(db.pool, 'select convalidated from pg_catalog.pg_constraint where conname = $1', [name]))[0]?.convalidated;

describe(`migration ${MIGRATION}`, () => {
  it('exists', () => expect(MIGRATION).toBeDefined());

  it('converts the rows the old snapshot wrote: risk_low loses the resolved leads, high and medium stay', async () => {
    await daily('2026-11-01', { total: 100, unresolved: 40, high: 10, medium: 20, low: 70 }); // old meaning: 60 resolved counted low
    await daily('2026-11-02', { total: 50, unresolved: 50, high: 5, medium: 5, low: 40 }); // no resolved lead: same under both
    await daily('2026-11-03', { total: 100, unresolved: 40, high: 10, medium: 20, low: 10 }); // already the new meaning
    expect(await migrate()).toEqual([]);
    expect(await risks()).toEqual([
      { day: '2026-11-01', risk_high: 10, risk_medium: 20, risk_low: 10 },
      { day: '2026-11-02', risk_high: 5, risk_medium: 5, risk_low: 40 },
      { day: '2026-11-03', risk_high: 10, risk_medium: 20, risk_low: 10 },
    ]);
    expect(await validated('identity_gap_daily_risk_of_unresolved_check')).toBe(true);
    expect(await validated('identity_origin_history_change_reason_check')).toBe(true);
    await expect(daily('2026-11-04', { total: 100, unresolved: 40, high: 10, medium: 20, low: 70 })).rejects.toMatchObject({ code: '23514' });
  });

  it('keeps a row it cannot interpret and a change_reason outside the list, says so, and checks every new row', async () => {
    await daily('2026-11-01', { total: 100, unresolved: 40, high: 10, medium: 20, low: 5 }); // sums to neither 100 nor 40
    const personKey = await person(db.pool);
    await db.pool.query(
      `insert into canon.identity_origin_history (person_key, new_origin_tag, new_source_id, changed_by, change_reason)
       values ($1, 'cabinet_lead', 'lead-1', 'ana', 'fixed by hand after a call')`,
      [personKey],
    );
    const notices = await migrate();
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatch(/ops\.identity_gap_daily: the risk counts of 2026-11-01 sum to neither/);
    expect(notices[1]).toMatch(/'fixed by hand after a call'/);
    expect(await risks()).toEqual([{ day: '2026-11-01', risk_high: 10, risk_medium: 20, risk_low: 5 }]);
    expect(await rowsOf(db.pool, 'select change_reason from canon.identity_origin_history')).toEqual([{ change_reason: 'fixed by hand after a call' }]);
    expect(await validated('identity_gap_daily_risk_of_unresolved_check')).toBe(false);
    expect(await validated('identity_origin_history_change_reason_check')).toBe(false);
    await expect(daily('2026-11-02', { total: 100, unresolved: 40, high: 10, medium: 20, low: 70 })).rejects.toMatchObject({ code: '23514' });
    await expect(
      db.pool.query(
        `insert into canon.identity_origin_history (person_key, new_origin_tag, new_source_id, changed_by, change_reason)
         values ($1, 'cabinet_lead', 'lead-1', 'ana', 'another free text')`,
        [personKey],
      ),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('leaves the database as the migrated template has it: both checks valid', async () => {
    await migrate();
    const rows = await rowsOf(
      db.pool,
      `select conname, convalidated, pg_catalog.pg_get_constraintdef(oid) as definition from pg_catalog.pg_constraint
       where conname in ('identity_gap_daily_risk_of_unresolved_check', 'identity_origin_history_change_reason_check') order by conname`,
    );
    expect(rows).toEqual([
      { conname: 'identity_gap_daily_risk_of_unresolved_check', convalidated: true, definition: 'CHECK ((((risk_high + risk_medium) + risk_low) = unresolved))' },
      {
        conname: 'identity_origin_history_change_reason_check',
        convalidated: true,
        definition: "CHECK ((change_reason = ANY (ARRAY['origin_created'::text, 'origin_corrected'::text, 'origin_upgraded'::text, 'manual'::text])))",
      },
    ]);
  });
});

describe('ops.snapshot_identity_gap', () => {
  it('writes risk counts of unresolved leads only, which the check accepts', async () => {
    await migrate();
    await resolvedLead(db.pool, 1);
    await resolvedLead(db.pool, 30);
    await leadAged(db.pool, 0);
    await leadAged(db.pool, 9);
    const [row] = await rowsOf(db.pool, 'select total_leads, unresolved, resolved, risk_high, risk_medium, risk_low from ops.snapshot_identity_gap()');
    expect(row).toEqual({ total_leads: 4, unresolved: 2, resolved: 2, risk_high: 1, risk_medium: 0, risk_low: 1 });
  });
});
