import type pg from 'pg';
import { leadAged, linkLead, person, resolvedLead, rowsOf, setOrigin } from './gap.js';

/**
 * One lead of every gap reason and risk level, plus resolved and repeat leads,
 * with the figures every reader of the gap totals must give for it (counted by
 * hand from SPEC 2.4's rules, not computed).
 */
export const GAP_DATASET_TOTALS = {
  total: 13,
  unresolved: 9,
  resolved: 4,
  pct_unresolved: 69.23,
  no_identity: 5,
  no_origin: 2,
  inconsistent_origin: 2,
  risk_high: 4,
  risk_medium: 3,
  risk_low: 2,
  repeat_leads: 1,
} as const;

export async function insertGapDataset(db: pg.Pool): Promise<void> {
  await leadAged(db, 30); // no_identity, high
  await leadAged(db, 8); // no_identity, high
  await leadAged(db, 3); // no_identity, medium
  await leadAged(db, null); // no_identity, medium (date unknown)
  await leadAged(db, 0); // no_identity, low
  const noOrigin = await leadAged(db, 5); // no_origin, medium
  await linkLead(db, noOrigin, await person(db));
  const scout = await leadAged(db, 1); // no_origin, low: the person's origin is not a lead
  const scoutPerson = await person(db);
  await linkLead(db, scout, scoutPerson);
  await setOrigin(db, scoutPerson, 'scout-1', 'scout_registration');
  const other = await resolvedLead(db, 40); // resolved
  const inconsistent = await leadAged(db, 2); // inconsistent_origin, high: origin is a lead of another person
  const inconsistentPerson = await person(db);
  await linkLead(db, inconsistent, inconsistentPerson);
  await setOrigin(db, inconsistentPerson, other.leadId);
  const dangling = await leadAged(db, 0); // inconsistent_origin, high: origin is a lead linked to nobody
  const danglingPerson = await person(db);
  await linkLead(db, dangling, danglingPerson);
  await setOrigin(db, danglingPerson, 'no-such-lead');
  const first = await resolvedLead(db, 20); // resolved
  const repeat = await leadAged(db, 10); // resolved, repeat lead
  await linkLead(db, repeat, first.personKey);
  await resolvedLead(db, 1); // resolved
}

/** The views and functions of canon and ops whose definition contains `pattern` (case-insensitive regex). */
export async function objectsDefining(db: pg.Pool, pattern: string): Promise<string[]> {
  const rows = await rowsOf<{ name: string }>(
    db,
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
