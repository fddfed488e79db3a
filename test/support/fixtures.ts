import type pg from 'pg';
import { runOnce } from 'graphile-worker';
import { taskList } from '../../src/worker.js';
import { graphileLogger } from '../../src/log.js';
import { silentLog } from './log.js';

export interface LeadFixture {
  external_id?: string | null;
  lead_created_at?: string | null;
  park_phone?: string | null;
  first_name?: string | null;
  middle_name?: string | null;
  last_name?: string | null;
  asset_plate_number?: string | null;
  park_name?: string | null;
}

export interface DriverFixture {
  driver_id: string;
  park_id?: string | null;
  phone?: string | null;
  car_number?: string | null;
  license_number?: string | null;
  full_name?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  hire_date?: string | null;
}

let counter = 0;
/** A 32-char hex external id, unique within the test run. */
export function hexId(): string {
  counter += 1;
  return (Date.now().toString(16) + process.pid.toString(16) + counter.toString(16).padStart(8, '0')).padStart(32, '0').slice(-32);
}

export async function insertLead(db: pg.Pool | pg.ClientBase, lead: LeadFixture): Promise<string> {
  const externalId = lead.external_id === undefined ? hexId() : lead.external_id;
  const { rows } = await db.query<{ lead_id: string }>(
    `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, middle_name, last_name, asset_plate_number, park_name)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     returning coalesce(external_id, id::text) as lead_id`,
    [externalId, lead.lead_created_at === undefined ? '2026-11-01 10:00:00' : lead.lead_created_at, lead.park_phone ?? null, lead.first_name ?? null,
     lead.middle_name ?? null, lead.last_name ?? null, lead.asset_plate_number ?? null, lead.park_name ?? null],
  );
  return rows[0]!.lead_id;
}

export async function insertDriver(db: pg.Pool | pg.ClientBase, d: DriverFixture): Promise<string> {
  await db.query(
    `insert into public.drivers (driver_id, park_id, phone, car_number, license_number, full_name, first_name, last_name, hire_date)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [d.driver_id, d.park_id ?? 'park-1', d.phone ?? null, d.car_number ?? null, d.license_number ?? null, d.full_name ?? null,
     d.first_name ?? null, d.last_name ?? null, d.hire_date ?? null],
  );
  return d.driver_id;
}

export async function refreshIndex(db: pg.Pool): Promise<void> {
  await db.query('select * from canon.refresh_drivers_index()');
}

/** Queues a job the way an operator does from psql and lets Graphile Worker run everything queued. */
export async function runJob(connectionString: string, db: pg.Pool, task: string, payload: unknown = {}): Promise<void> {
  await db.query('select graphile_worker.add_job($1, $2::json)', [task, JSON.stringify(payload)]);
  await runOnce({ connectionString, taskList, logger: graphileLogger(silentLog()) });
}

export async function lastRun(db: pg.Pool, task: string) {
  const { rows } = await db.query('select * from ops.job_runs where task = $1 order by id desc limit 1', [task]);
  return rows[0] as { id: string; state: string; error: string | null; processed: number; matched: number; failed: number; pending: number; skipped: number; stats: Record<string, unknown>; trigger: string };
}

export async function linkOf(db: pg.Pool, leadId: string) {
  const { rows } = await db.query(
    `select * from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = $1`, [leadId]);
  return rows[0] as { person_key: string; match_rule: string; match_score: number; confidence_level: string; evidence: Record<string, unknown>; run_id: string } | undefined;
}

export async function driverPerson(db: pg.Pool, driverId: string): Promise<string | undefined> {
  const { rows } = await db.query(`select person_key from canon.identity_links where source_table = 'drivers' and source_pk = $1`, [driverId]);
  return rows[0]?.person_key as string | undefined;
}

export async function jobOf(db: pg.Pool, leadId: string) {
  const { rows } = await db.query(`select * from ops.identity_matching_jobs where source_id = $1`, [leadId]);
  return rows[0] as { status: string; fail_reason: string | null; fail_detail: string | null; attempt_count: number; match_rule: string | null;
    matched_person_key: string | null; next_attempt_at: Date | null; last_attempt_at: Date | null } | undefined;
}

export async function gapOf(db: pg.Pool, leadId: string) {
  const { rows } = await db.query(`select * from ops.v_identity_gap_analysis where lead_id = $1`, [leadId]);
  return rows[0] as { gap_reason: string; risk_level: string; is_repeat_lead: boolean; person_key: string | null } | undefined;
}

/** Empties every table a test writes, keeping the schema and settings. */
export async function resetData(db: pg.Pool): Promise<void> {
  await db.query(`truncate public.module_ct_cabinet_leads, public.drivers, public.summary_daily, canon.drivers_index,
    canon.identity_links, canon.identity_origin, canon.identity_origin_history, canon.identity_registry,
    ops.identity_matching_jobs, ops.job_runs, ops.identity_gap_daily, ops.recovery_queue,
    canon.near_keys, canon.near_key_variants, ops.recovery_near_pairs, ops.lead_candidates, ops.review_decisions,
    ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes, ops.lead_keys restart identity cascade`);
  await db.query(`update canon.drivers_index_state set last_refreshed_at = null, content_changed_at = null, row_count = 0`);
  await db.query(`delete from graphile_worker._private_jobs`).catch(() => undefined);
}
