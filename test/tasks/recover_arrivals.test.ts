import { run } from 'graphile-worker';
import { beforeEach, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/log.js';
import { taskList } from '../../src/worker.js';
import { silentLog } from '../support/log.js';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, insertDriver, insertLead, jobOf, lastRun, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';

const db = await useTestDatabase();

/*
 * The work lists are filled by the arrival triggers on the raw tables; settle() empties them after a test's set-up,
 * so that a run takes only what the test then changes. leadArrived and driverChanged record by hand (the contract
 * allows it).
 */
const settle = () => db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes restart identity');
const leadArrived = (leadId: string) => db.pool.query('insert into ops.lead_changes (lead_id) values ($1)', [leadId]);
/* A driver recorded by hand besides its trigger's row: a duplicate id in a work list is taken once. */
const driverChanged = (driverId: string, change: 'insert' | 'update' | 'delete' = 'insert') =>
  db.pool.query('insert into ops.driver_changes (driver_id, change) values ($1, $2)', [driverId, change]);
const recoverArrivals = async () => {
  await runJob(db.url, db.pool, 'recover_arrivals', {});
  const run = await lastRun(db.pool, 'recover_arrivals');
  expect(run.error).toBeNull();
  expect(run.state).toBe('succeeded');
  return run;
};
const recoverAll = async () => {
  await runJob(db.url, db.pool, 'retry_identity_matching', {});
  expect((await lastRun(db.pool, 'retry_identity_matching')).state).toBe('succeeded');
};
const attempts = async () => {
  const { rows } = await db.pool.query<{ source_id: string; attempt_count: number; status: string }>(
    'select source_id, attempt_count, status from ops.identity_matching_jobs order by source_id');
  return new Map(rows.map((r) => [r.source_id, r.attempt_count]));
};

beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes restart identity');
});

describe('recover_arrivals', () => {
  it('links a new lead inserted with a matching indexed driver, and takes its work-list row', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    await settle();
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    const run = await recoverArrivals();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect(run).toMatchObject({ processed: 1, matched: 1 });
    expect(run.stats).toMatchObject({ leads_taken: 1, drivers_taken: 0, planned: 1 });
    const { rows } = await db.pool.query('select run_id, taken_at from ops.lead_changes');
    expect(rows[0].run_id).toBe(run.id);
    expect(rows[0].taken_at).not.toBeNull();
    await expectInvariants(db.pool);
  });

  it('re-opens only the pending and failed leads a changed driver meets, by its old or its new keys; no other attempt count changes', async () => {
    /* d3 and d4 share a phone: lead D has two candidates until d4's phone changes (its OLD key meets D). */
    await insertDriver(db.pool, { driver_id: 'd3', phone: '51987000004', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'd4', phone: '51987000004', full_name: 'VEGA SOTO MARIO' });
    await refreshIndex(db.pool);
    const a = await insertLead(db.pool, { park_phone: '987000001', first_name: 'Rosa', last_name: 'Quispe' });
    const b = await insertLead(db.pool, { asset_plate_number: 'ABC-123', first_name: 'Ana', last_name: 'Luna Torres' });
    /* Two digits or more from every phone that changes (R5_PHONE_NEAR meets a phone one digit away). */
    const c = await insertLead(db.pool, { park_phone: '987111113' });
    const d = await insertLead(db.pool, { park_phone: '987000004', first_name: 'Luis', last_name: 'Rojas Paz' });
    await recoverAll();
    expect(await jobOf(db.pool, d)).toMatchObject({ status: 'pending', fail_reason: 'MULTIPLE_CANDIDATES', attempt_count: 1 });
    /* B gave up for good: failed at max attempts. */
    await db.pool.query(`update ops.identity_matching_jobs set status = 'failed', attempt_count = 5, next_attempt_at = null where source_id = $1`, [b]);
    const cBefore = await jobOf(db.pool, c);
    await settle();

    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000001', full_name: 'QUISPE MAMANI ROSA' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'ABC123', full_name: 'LUNA TORRES ANA', hire_date: '2026-10-20' });
    await db.pool.query(`update public.drivers set phone = '51911111111' where driver_id = 'd4'`);
    const run = await recoverArrivals();

    expect(run.stats).toMatchObject({ drivers_taken: 3, index_inserted: 2, index_updated: 1, reopened: 3, planned: 3 });
    expect((await linkOf(db.pool, a))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect((await linkOf(db.pool, b))?.person_key).toBe(await driverPerson(db.pool, 'd2'));
    expect((await linkOf(db.pool, d))?.person_key).toBe(await driverPerson(db.pool, 'd3'));
    expect(await jobOf(db.pool, a)).toMatchObject({ status: 'matched', attempt_count: 2 });
    expect(await jobOf(db.pool, b)).toMatchObject({ status: 'matched', attempt_count: 6 });
    expect(await jobOf(db.pool, d)).toMatchObject({ status: 'matched', attempt_count: 2 });
    /* C meets no changed driver: its job row is exactly as it was. */
    expect(await jobOf(db.pool, c)).toEqual(cBefore);
    expect(await linkOf(db.pool, c)).toBeUndefined();
    await expectInvariants(db.pool);
  });

  it('links 1,000 pending leads in one run when 1,000 drivers with their phones arrive; no other lead is attempted', async () => {
    await db.pool.query(`
      insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name)
      select 'lead-' || n, '2026-11-01 10:00', (case when n <= 1000 then 987000000 else 955500000 end + n)::text, 'Name' || n, 'Surname'
      from generate_series(1, 1500) as n`);
    await recoverAll();
    const before = await attempts();
    expect(before.size).toBe(1500);
    await settle();
    await db.pool.query(`
      insert into public.drivers (driver_id, park_id, phone, full_name)
      select 'drv-' || n, 'park-1', '51' || (987000000 + n)::text, 'SURNAME NAME' || n
      from generate_series(1, 1000) as n`);
    const run = await recoverArrivals();
    expect(run.stats).toMatchObject({ drivers_taken: 1000, index_inserted: 1000, reopened: 1000, planned: 1000 });
    expect(run).toMatchObject({ processed: 1000, matched: 1000 });
    const linked = await db.pool.query<{ n: number }>(`select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads'`);
    expect(linked.rows[0]!.n).toBe(1000);
    const after = await attempts();
    for (const [lead, count] of after) {
      const n = Number(lead.slice('lead-'.length));
      expect(count, lead).toBe(n <= 1000 ? before.get(lead)! + 1 : before.get(lead)!);
    }
    await expectInvariants(db.pool);
  });

  it('skips a taken lead that is already linked, and leaves rows recorded after its take for the next run', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    await recoverAll();
    const linked = await linkOf(db.pool, lead);
    expect(linked).toBeDefined();
    await settle();
    await leadArrived(lead);
    const run = await recoverArrivals();
    expect(run.stats).toMatchObject({ leads_taken: 1, planned: 0 });
    expect(run.processed).toBe(0);
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', attempt_count: 1 });
    /* Taken rows stay (the latency view reads them); a row recorded now is the next run's. */
    await leadArrived(lead);
    const { rows } = await db.pool.query('select run_id from ops.lead_changes order by id');
    expect(rows.map((r) => r.run_id)).toEqual([run.id, null]);
  });

  it('takes again the rows of a recover_arrivals run that failed after its take (process killed), and links their leads', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    await settle();
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    const { rows: [dead] } = await db.pool.query<{ id: string }>(`insert into ops.job_runs (task, trigger, state, started_at, finished_at, error)
      values ('recover_arrivals', 'arrival', 'failed', now() - interval '1 minute', now(), 'abandoned: the process running it stopped before it finished') returning id`);
    await db.pool.query('select ops.expand_lead_insert_ranges()'); // the dead run's take expanded the insert's range first
    await db.pool.query('update ops.lead_changes set run_id = $1, taken_at = now()', [dead!.id]);
    const run = await recoverArrivals();
    expect(run.stats).toMatchObject({ leads_taken: 1, planned: 1 });
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    const { rows } = await db.pool.query('select run_id from ops.lead_changes');
    expect(rows.map((r) => String(r.run_id))).toEqual([String(run.id)]);
  });

  it('prunes the rows taken longer ago than arrival_work_list_retention_hours', async () => {
    await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at, run_id, taken_at) values
      ('old', now() - interval '3 days', 1, now() - interval '3 days'), ('recent', now() - interval '1 hour', 1, now() - interval '1 hour')`);
    await db.pool.query(`insert into ops.driver_changes (driver_id, change, recorded_at, run_id, taken_at) values
      ('old', 'insert', now() - interval '3 days', 1, now() - interval '3 days')`);
    await recoverArrivals();
    expect((await db.pool.query('select lead_id from ops.lead_changes order by id')).rows.map((r) => r.lead_id)).toEqual(['recent']);
    expect((await db.pool.query('select count(*)::int as n from ops.driver_changes')).rows[0].n).toBe(0);
  });

  it('waits in the serial queue while a full run (retry_identity_matching) runs', async () => {
    const holder = await db.pool.connect();
    const runner = await run({ connectionString: db.url, taskList, concurrency: 2, noHandleSignals: true, pollInterval: 50, logger: graphileLogger(silentLog()) });
    try {
      /* The full run blocks on the recovery lock held here, while it holds its place in the queue. */
      await holder.query('select pg_advisory_lock(ops.recovery_lock_key())');
      await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', '{}'::json, queue_name => 'retry_identity_matching', job_key => 'retry_identity_matching')`);
      const waitFor = async (sql: string) => {
        for (let i = 0; i < 200; i++) {
          if ((await db.pool.query(sql)).rows[0].ok) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`timed out waiting for: ${sql}`);
      };
      await waitFor(`select exists (select 1 from ops.job_runs where task = 'retry_identity_matching' and state = 'running') as ok`);
      await db.pool.query(`select graphile_worker.add_job('recover_arrivals', '{}'::json, queue_name => 'retry_identity_matching', job_key => 'recover_arrivals')`);
      await new Promise((r) => setTimeout(r, 500));
      expect((await db.pool.query(`select count(*)::int as n from ops.job_runs where task = 'recover_arrivals'`)).rows[0].n).toBe(0);
      await holder.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      await waitFor(`select exists (select 1 from ops.job_runs where task = 'recover_arrivals' and state = 'succeeded') as ok`);
      const { rows } = await db.pool.query(`select
          (select finished_at from ops.job_runs where task = 'retry_identity_matching') as full_finished,
          (select started_at from ops.job_runs where task = 'recover_arrivals') as arrivals_started`);
      expect(rows[0].arrivals_started.getTime()).toBeGreaterThanOrEqual(rows[0].full_finished.getTime());
    } finally {
      await holder.query('select pg_advisory_unlock_all()').catch(() => undefined);
      holder.release();
      await runner.stop();
    }
  });

  it("re-opens a waiting lead by its new keys after the work list recorded their change, and the full refresh by keys it missed", async () => {
    await insertDriver(db.pool, { driver_id: 'seed', phone: '51900000009', full_name: 'SEMILLA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987000111' });
    await recoverAll();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', attempt_count: 1 });
    await settle(); // the full run attempted the inserted lead; its work-list row is not the next run's
    /* A driver change makes the refresh learn the waiting lead's keys (ops.lead_keys). */
    await db.pool.query(`update public.drivers set phone = '51900000008' where driver_id = 'seed'`);
    await driverChanged('seed', 'update');
    await recoverArrivals();
    expect((await db.pool.query('select phone_norm from ops.lead_keys where lead_id = $1', [lead])).rows[0]?.phone_norm).toBe('987000111');

    /* The lead's phone changes; the work list records it: the run attempts it and forgets its old keys. */
    await db.pool.query(`update public.module_ct_cabinet_leads set park_phone = '987000222' where external_id = $1`, [lead]);
    await leadArrived(lead);
    await recoverArrivals();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', attempt_count: 2 });
    /* A driver with the NEW phone arrives: the lead is re-opened and linked. */
    await insertDriver(db.pool, { driver_id: 'match', phone: '51987000222', full_name: 'NUEVO' });
    await driverChanged('match');
    const run = await recoverArrivals();
    expect(run.stats).toMatchObject({ reopened: 1, planned: 1 });
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'match'));

    /* A key change no work list recorded: the nightly full refresh starts the keys afresh and still finds the lead. */
    const other = await insertLead(db.pool, { park_phone: '987000333' });
    await recoverAll();
    await settle();
    await db.pool.query(`update public.drivers set phone = '51900000007' where driver_id = 'seed'`);
    await driverChanged('seed', 'update');
    await recoverArrivals();
    await db.pool.query(`update public.module_ct_cabinet_leads set park_phone = '987000444' where external_id = $1`, [other]);
    await insertDriver(db.pool, { driver_id: 'late', phone: '51987000444', full_name: 'TARDE' });
    await refreshIndex(db.pool);
    expect(await jobOf(db.pool, other)).toMatchObject({ status: 'pending', attempt_count: 1 });
    expect((await jobOf(db.pool, other))!.next_attempt_at!.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('plans the leads a killed incremental run took but did not process', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    /* A run that took the lead and planned it, then its process died (no run lock held: abandoned). */
    const { rows } = await db.pool.query(`insert into ops.job_runs (task, trigger, params) values ('recover_arrivals', 'sql', '{}') returning id`);
    const killed = rows[0].id;
    await db.pool.query(`insert into ops.lead_changes (lead_id, run_id, taken_at) values ($1, $2, now())`, [lead, killed]);
    await db.pool.query(`insert into ops.recovery_queue (run_id, seq, lead_id, has_job, component, batch_no) values ($1, 1, $2, false, 1, 1)`, [killed, lead]);
    const run = await recoverArrivals();
    /* The lead's rows (the trigger's and the killed run's) are taken again; the lead is planned once. */
    expect(run.stats).toMatchObject({ planned: 1 });
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect((await db.pool.query('select state from ops.job_runs where id = $1', [killed])).rows[0].state).toBe('failed');
    expect((await db.pool.query('select count(*)::int as n from ops.recovery_queue')).rows[0].n).toBe(0);
  });
});
