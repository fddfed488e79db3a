import type pg from 'pg';
import { expect } from 'vitest';

/**
 * The invariants of SPEC 9, as counts of violations (all must be 0). Written
 * independently of ops.v_diag_integrity on purpose: the tests check the engine
 * and the diagnostic view against this oracle (test/cli/diagnose.test.ts). No count of duplicate links: the unique
 * key of canon.identity_links forbids them, so such a count could never fail.
 */
export async function invariantViolations(db: pg.Pool | pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, number>>(`
    select
      (select count(*) from ops.identity_matching_jobs as jobs
        where jobs.status = 'matched'
          and not exists (select 1 from canon.identity_links as links
                          where links.source_table = 'module_ct_cabinet_leads' and links.source_pk = jobs.source_id
                            and links.person_key = jobs.matched_person_key))::int as matched_without_link,
      (select count(*) from ops.v_identity_gap_analysis as gap
        where gap.gap_reason = 'resolved' and not gap.has_origin)::int as resolved_without_origin,
      (select count(*) from canon.identity_registry as persons
        where not exists (select 1 from canon.identity_links as links
                          where links.person_key = persons.person_key and links.source_table = 'module_ct_cabinet_leads'))::int as person_without_lead,
      (select count(distinct jobs.matched_person_key) from ops.identity_matching_jobs as jobs
        where jobs.status = 'matched'
          and not exists (select 1 from canon.identity_origin as origins
                          where origins.person_key = jobs.matched_person_key and origins.origin_tag = 'cabinet_lead'))::int as matched_person_without_origin
  `);
  return rows[0]!;
}

export async function expectInvariants(db: pg.Pool | pg.ClientBase): Promise<void> {
  const v = await invariantViolations(db);
  expect(v).toEqual({ matched_without_link: 0, resolved_without_origin: 0, person_without_lead: 0, matched_person_without_origin: 0 });
}
