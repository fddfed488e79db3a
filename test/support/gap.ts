import type pg from 'pg';
import { hexId } from './fixtures.js';

/**
 * Hand-built gap fixtures: plain SQL inserts into leads, persons, links,
 * origins, the run ledger and the history, so a view test states exactly the
 * rows it reads. Lead dates are relative to now() at time zone 'utc', the
 * clock the views use, so "7 days old" is exactly gap_age_days = 7.
 */
type Db = pg.Pool | pg.ClientBase;

/** A lead created `days` days ago (UTC), or with no lead_created_at when `days` is null. */
export async function leadAged(db: Db, days: number | null): Promise<string> {
  const { rows } = await db.query<{ lead_id: string }>(
    `insert into public.module_ct_cabinet_leads (external_id, lead_created_at)
     values ($1, case when $2::integer is null then null else (now() at time zone 'utc') - make_interval(days => $2::integer) end)
     returning coalesce(external_id, id::text) as lead_id`,
    [hexId(), days],
  );
  return rows[0]!.lead_id;
}

export async function person(db: Db): Promise<string> {
  const { rows } = await db.query<{ person_key: string }>(
    `insert into canon.identity_registry (person_key, confidence_level) values (public.gen_random_uuid(), 'HIGH') returning person_key`,
  );
  return rows[0]!.person_key;
}

export async function linkLead(db: Db, leadId: string, personKey: string): Promise<void> {
  await db.query(
    `insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
     values ($1, 'module_ct_cabinet_leads', $2, 'MANUAL', 100, 'HIGH')`,
    [personKey, leadId],
  );
}

export async function linkDriver(db: Db, driverId: string, personKey: string): Promise<void> {
  await db.query(
    `insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
     values ($1, 'drivers', $2, 'DRIVER_MATCH', 100, 'HIGH')`,
    [personKey, driverId],
  );
}

export async function setOrigin(db: Db, personKey: string, sourceId: string, tag = 'cabinet_lead'): Promise<void> {
  await db.query(
    `insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, $2, $3)
     on conflict (person_key) do update set origin_tag = excluded.origin_tag, origin_source_id = excluded.origin_source_id`,
    [personKey, tag, sourceId],
  );
}

/** A lead linked to a new person whose cabinet_lead origin is that lead. */
export async function resolvedLead(db: Db, days: number | null): Promise<{ leadId: string; personKey: string }> {
  const leadId = await leadAged(db, days);
  const personKey = await person(db);
  await linkLead(db, leadId, personKey);
  await setOrigin(db, personKey, leadId);
  return { leadId, personKey };
}

export interface RunFixture {
  task?: string;
  state?: 'running' | 'succeeded' | 'failed' | 'rejected';
  /** When the run finished (or started, when running), in hours before now. */
  hoursAgo: number;
  durationMs?: number;
  processed?: number;
  matched?: number;
  failed?: number;
  pending?: number;
  skipped?: number;
  error?: string | null;
}

/** A row of the run ledger, as a finished (or running) run leaves it. */
export async function insertRun(db: Db, r: RunFixture): Promise<number> {
  const state = r.state ?? 'succeeded';
  const duration = r.durationMs ?? 1000;
  const { rows } = await db.query<{ id: string }>(
    `insert into ops.job_runs (task, trigger, state, started_at, finished_at, duration_ms, processed, matched, failed, pending, skipped, error)
     values ($1, 'cron', $2,
             now() - ($3::double precision * interval '1 hour') - case when $2 = 'running' then interval '0' else make_interval(secs => $4::double precision / 1000) end,
             case when $2 = 'running' then null else now() - ($3::double precision * interval '1 hour') end,
             case when $2 = 'running' then null else $4::bigint end,
             $5, $6, $7, $8, $9, $10)
     returning id`,
    [r.task ?? 'retry_identity_matching', state, r.hoursAgo, duration, r.processed ?? 0, r.matched ?? 0, r.failed ?? 0, r.pending ?? 0, r.skipped ?? 0, r.error ?? null],
  );
  return Number(rows[0]!.id);
}

/** A row of ops.identity_gap_daily `daysAgo` days before today (UTC). */
export async function insertDaily(db: Db, daysAgo: number, d: { pct: number; unresolved?: number; total?: number; matched?: number; runs?: number }): Promise<void> {
  const total = d.total ?? 100;
  const unresolved = d.unresolved ?? Math.round((d.pct * total) / 100);
  await db.query(
    `insert into ops.identity_gap_daily (snapshot_date, total_leads, unresolved, resolved, pct_unresolved, no_identity, no_origin, inconsistent_origin,
                                        risk_high, risk_medium, risk_low, matched_in_day, runs_in_day)
     values ((now() at time zone 'utc')::date - $1::integer, $2::integer, $3::integer, $2::integer - $3::integer, $4, $3, 0, 0, 0, 0, $3, $5, $6)`,
    [daysAgo, total, unresolved, d.pct, d.matched ?? 0, d.runs ?? 0],
  );
}

/** A job row of the recovery for a lead. */
export async function insertMatchingJob(
  db: Db,
  j: { leadId: string; status: 'pending' | 'matched' | 'failed' | 'skipped'; failReason?: string | null; attempts?: number; personKey?: string | null; nextAttemptHours?: number },
): Promise<void> {
  await db.query(
    `insert into ops.identity_matching_jobs (source_id, status, fail_reason, attempt_count, last_attempt_at, next_attempt_at, matched_person_key, match_rule)
     values ($1, $2, $3, $4::integer, now() - interval '1 hour',
             case when $6::double precision is null then null else now() + ($6::double precision * interval '1 hour') end,
             $5, case when $2 = 'matched' then 'R1_PHONE_EXACT' end)`,
    [j.leadId, j.status, j.failReason ?? null, j.attempts ?? 1, j.personKey ?? null, j.nextAttemptHours ?? null],
  );
}

export async function rowsOf<T = Record<string, unknown>>(db: Db, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query(sql, params)).rows as T[];
}
