/**
 * The arrival triggers (ops.record_lead_changes, ops.record_driver_changes) record exactly the changed ids per event,
 * set-based, for a loader with no right on ops; they survive `idgap migrate`; and ops.queue_arrivals turns a burst
 * into one job, honours the switch (global and per session), and re-queues from the work list alone.
 */
import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applySqlObjects } from '../../../../src/migrate.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { resetData } from '../../../support/fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes restart identity');
  await db.pool.query(`update ops.settings set value = 'on' where key = 'arrival_enqueue_enabled'`);
  await db.pool.query('delete from ops.job_triggers');
});

/* The recorded leads, one row each: inserts are recorded as ranges of ids, expanded as an incremental run does first. */
const leadChanges = async () => {
  await db.pool.query('select ops.expand_lead_insert_ranges()');
  return (await db.pool.query<{ lead_id: string }>('select lead_id from ops.lead_changes order by lead_id')).rows.map((r) => r.lead_id).sort();
};
const ranges = async () =>
  (await db.pool.query<{ first_id: string; last_id: string; lead_count: string }>('select first_id, last_id, lead_count from ops.lead_insert_ranges order by first_id')).rows
    .map((r) => [Number(r.first_id), Number(r.last_id), Number(r.lead_count)]);
const driverChanges = async () =>
  (await db.pool.query<{ driver_id: string; change: string }>('select driver_id, change from ops.driver_changes order by driver_id, change')).rows.map(
    (r) => `${r.driver_id}:${r.change}`,
  ).sort();
const arrivalJobs = async () =>
  (await db.pool.query<{ id: string; queue_name: string; run_at: Date; trigger: string | null; delay_ms: number }>(
    `select jobs.id, jobs.queue_name, jobs.run_at, triggers.trigger, extract(epoch from jobs.run_at - jobs.created_at) * 1000 as delay_ms
       from graphile_worker.jobs as jobs left join ops.job_triggers as triggers on triggers.job_id = jobs.id
      where jobs.task_identifier = 'recover_arrivals'`,
  )).rows;

const insertLeads = (n: number, prefix = 'L') =>
  db.pool.query(
    `insert into public.module_ct_cabinet_leads (external_id, park_phone, first_name, last_name, asset_plate_number, lead_created_at)
     select $2 || g, '9' || lpad(g::text, 8, '0'), 'Ana', 'Quispe', 'ABC' || g, '2026-01-01' from generate_series(1, $1::int) as g`,
    [n, prefix],
  );

describe('arrival triggers on public.module_ct_cabinet_leads', () => {
  it('records every inserted lead once, with one recorded_at per statement', async () => {
    await insertLeads(3);
    await db.pool.query(`insert into public.module_ct_cabinet_leads (id, park_phone) values (424242, '999')`);
    expect(await leadChanges()).toEqual(['424242', 'L1', 'L2', 'L3']);
    const { rows } = await db.pool.query<{ n: number }>(`select count(distinct recorded_at)::int as n from ops.lead_changes where lead_id like 'L%'`);
    expect(rows[0]!.n).toBe(1);
  });

  it('records an insert statement as one range of its ids when they are consecutive, else one range per run of consecutive ids', async () => {
    await db.pool.query(`alter table public.module_ct_cabinet_leads alter column id restart with 1000`);
    await insertLeads(1000);
    expect(await ranges()).toEqual([[1000, 1999, 1000]]);
    /* Ids given by the loader (or taken by another session in between): only the statement's own ids, never a gap. */
    await db.pool.query(`insert into public.module_ct_cabinet_leads (id, external_id) values (10, 'X10'), (11, 'X11'), (12, 'X12'), (20, 'X20'), (5000, 'X5000')`);
    expect(await ranges()).toEqual([[10, 12, 3], [20, 20, 1], [1000, 1999, 1000], [5000, 5000, 1]]);
    await db.pool.query(`insert into public.module_ct_cabinet_leads (external_id) select 'none' where false`);
    expect(await ranges()).toHaveLength(4);
    expect(await leadChanges()).toEqual([...Array.from({ length: 1000 }, (_, k) => `L${k + 1}`), 'X10', 'X11', 'X12', 'X20', 'X5000'].sort());
    expect(await ranges()).toEqual([]);
  });

  it('expands a range into one row per lead still there, with its recorded_at, and leaves a range committed later for the next expansion', async () => {
    await insertLeads(5);
    const { rows: [range] } = await db.pool.query<{ recorded_at: string }>('select recorded_at::text from ops.lead_insert_ranges');
    await db.pool.query(`delete from public.module_ct_cabinet_leads where external_id = 'L2'`);
    await db.pool.query(`update public.module_ct_cabinet_leads set external_id = 'L4-renamed' where external_id = 'L4'`);
    const late = await db.pool.connect();
    try {
      await late.query('begin');
      await late.query(`insert into public.module_ct_cabinet_leads (external_id) values ('LATE')`);
      expect((await db.pool.query('select ops.expand_lead_insert_ranges() as n')).rows[0].n).toBe('4');
      await late.query('commit');
    } finally {
      late.release();
    }
    const { rows } = await db.pool.query<{ lead_id: string; recorded_at: Date }>(
      `select lead_id, recorded_at from ops.lead_changes where recorded_at = $1::timestamptz order by id`, [range!.recorded_at]);
    /* L4 was recorded by the update too, under both ids; the range gives its lead_id of now. */
    expect(rows.map((r) => r.lead_id)).toEqual(['L1', 'L3', 'L4-renamed', 'L5']);
    expect(await ranges()).toHaveLength(1);
    expect(await leadChanges()).toContain('LATE');
  });

  it('records an update of a key column, and nothing for an update of another column', async () => {
    await insertLeads(4);
    await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges');
    await db.pool.query(`update public.module_ct_cabinet_leads set status = 'active', asset_model = 'Yaris', park_name = 'X'`);
    expect(await leadChanges()).toEqual([]);
    await db.pool.query(`update public.module_ct_cabinet_leads set park_phone = park_phone where external_id = 'L1'`); // same value
    expect(await leadChanges()).toEqual([]);
    await db.pool.query(`update public.module_ct_cabinet_leads set park_phone = '911' where external_id = 'L1'`);
    await db.pool.query(`update public.module_ct_cabinet_leads set asset_plate_number = null where external_id = 'L2'`);
    await db.pool.query(`update public.module_ct_cabinet_leads set middle_name = 'M', lead_created_at = '2026-02-02' where external_id = 'L3'`);
    expect(await leadChanges()).toEqual(['L1', 'L2', 'L3']);
  });

  it('records both the old and the new lead id when external_id changes', async () => {
    await insertLeads(2);
    await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges');
    await db.pool.query(`update public.module_ct_cabinet_leads set external_id = 'NEW-' || external_id where external_id = 'L1'`);
    expect(await leadChanges()).toEqual(['L1', 'NEW-L1']);
    await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges');
    const { rows } = await db.pool.query<{ id: string }>(`update public.module_ct_cabinet_leads set external_id = null where external_id = 'L2' returning id`);
    expect(await leadChanges()).toEqual([rows[0]!.id, 'L2'].sort());
  });
});

describe('arrival triggers on public.drivers', () => {
  const insertDrivers = (n: number) =>
    db.pool.query(
      `insert into public.drivers (driver_id, phone, car_number, full_name, hire_date)
       select 'D' || g, '9' || lpad(g::text, 8, '0'), 'ABC' || g, 'Ana Quispe', '2026-01-01' from generate_series(1, $1::int) as g`,
      [n],
    );

  it('records inserts and deletes', async () => {
    await insertDrivers(3);
    expect(await driverChanges()).toEqual(['D1:insert', 'D2:insert', 'D3:insert']);
    await db.pool.query('truncate ops.driver_changes');
    await db.pool.query(`delete from public.drivers where driver_id in ('D1', 'D3')`);
    expect(await driverChanges()).toEqual(['D1:delete', 'D3:delete']);
  });

  it('records an update of each column that feeds canon.drivers_index, and nothing for the others', async () => {
    await insertDrivers(12);
    await db.pool.query('truncate ops.driver_changes');
    await db.pool.query(`update public.drivers set car_brand = 'Kia', car_model = 'Rio', created_at = now() - interval '1 day'`);
    await db.pool.query(`update public.drivers set phone = phone`);
    expect(await driverChanges()).toEqual([]);
    const columns = ['park_id', 'phone', 'license_number', 'license_normalized_number', 'car_number', 'car_normalized_number',
      'full_name', 'first_name', 'middle_name', 'last_name'];
    for (const [k, column] of columns.entries()) {
      await db.pool.query(`update public.drivers set ${column} = 'x' where driver_id = $1`, [`D${k + 1}`]);
    }
    await db.pool.query(`update public.drivers set hire_date = '2020-01-01' where driver_id = 'D11'`);
    expect(await driverChanges()).toEqual(
      Array.from({ length: 11 }, (_, k) => `D${k + 1}:update`).sort(),
    );
  });

  it('records a changed driver_id as the old id deleted and the new one inserted', async () => {
    await insertDrivers(1);
    await db.pool.query('truncate ops.driver_changes');
    await db.pool.query(`update public.drivers set driver_id = 'D1-renamed' where driver_id = 'D1'`);
    expect(await driverChanges()).toEqual(['D1-renamed:insert', 'D1:delete'].sort());
  });
});

describe('the arrival triggers for a loader and for idgap migrate', () => {
  it('let a loader with rights on the raw tables alone record changes (security definer)', async () => {
    const role = `idgap_loader_${db.name.slice(-6)}`;
    await db.pool.query(`drop role if exists ${role}`);
    await db.pool.query(`create role ${role} nologin`);
    try {
      await db.pool.query(`grant usage on schema public to ${role}; grant insert, update, delete, select on public.module_ct_cabinet_leads, public.drivers to ${role}`);
      const client = await db.pool.connect();
      try {
        await client.query('begin');
        await client.query(`set local role ${role}`);
        await client.query(`insert into public.module_ct_cabinet_leads (external_id, park_phone) values ('LR1', '911')`);
        await client.query(`insert into public.drivers (driver_id, phone) values ('DR1', '911')`);
        await client.query(`delete from public.drivers where driver_id = 'DR1'`);
        const denied = await client.query('savepoint s; select count(*) from ops.lead_changes').then(() => null, (e: { code?: string }) => e.code);
        expect(denied).toBe('42501'); // the loader has no right on ops itself
        await client.query('rollback to savepoint s');
        await client.query('commit');
      } finally {
        client.release();
      }
      expect(await leadChanges()).toEqual(['LR1']);
      expect(await driverChanges()).toEqual(['DR1:delete', 'DR1:insert']);
    } finally {
      await db.pool.query(`drop owned by ${role}; drop role ${role}`);
    }
  });

  it('are there after idgap migrate re-applies a changed trigger function', async () => {
    const triggers = async () =>
      (await db.pool.query<{ t: string }>(
        `select tgrelid::regclass || '.' || tgname as t from pg_trigger where tgname like 'arrival\\_%' and not tgisinternal order by 1`,
      )).rows.map((r) => r.t);
    const expected = [
      'drivers.arrival_driver_deletes', 'drivers.arrival_driver_inserts', 'drivers.arrival_driver_updates',
      'module_ct_cabinet_leads.arrival_lead_inserts', 'module_ct_cabinet_leads.arrival_lead_updates',
    ];
    expect(await triggers()).toEqual(expected);
    /* A changed hash makes idgap migrate drop the function with cascade (its triggers too) and run the file again. */
    await db.pool.query(`update ops.sql_objects set sha256 = 'changed' where file in ('ops/functions/record_lead_changes.sql', 'ops/functions/record_driver_changes.sql')`);
    expect(await applySqlObjects(db.url)).toBeGreaterThan(0);
    expect(await triggers()).toEqual(expected);
    await insertLeads(1, 'AFTER');
    expect(await leadChanges()).toEqual(['AFTER1']);
  });
});

describe('ops.queue_arrivals', () => {
  it('makes one job of a 10,000-row insert burst, in the serial queue of recovery runs, after the batching delay, trigger arrival', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let notifications = 0;
    listener.on('notification', () => void (notifications += 1));
    await listener.query('listen idgap_arrivals');
    try {
      for (let k = 0; k < 10; k++) await insertLeads(1000, `B${k}-`); // 10 statements of 1,000 rows
      const client = await db.pool.connect();
      try {
        await client.query('begin');
        for (let k = 0; k < 5; k++) await client.query(`insert into public.module_ct_cabinet_leads (external_id) values ('T${k}')`);
        await client.query('commit');
      } finally {
        client.release();
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(notifications).toBe(11); // one per transaction, whatever its size or statements
      for (let k = 0; k < notifications; k++) await db.pool.query('select ops.queue_arrivals()');
    } finally {
      await listener.end();
    }
    expect(await leadChanges()).toHaveLength(10_005);
    const jobs = await arrivalJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.queue_name).toBe('retry_identity_matching');
    expect(jobs[0]!.trigger).toBe('arrival');
    expect(Math.round(jobs[0]!.delay_ms)).toBe(1000);
  });

  it('notifies only when no recover_arrivals job is waiting: a waiting job takes the changes anyway', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let notifications = 0;
    listener.on('notification', () => void (notifications += 1));
    await listener.query('listen idgap_arrivals');
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 200));
      const n = notifications;
      notifications = 0;
      return n;
    };
    try {
      await insertLeads(1, 'N1-');
      expect(await settle()).toBe(1);
      const job = (await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id;
      await insertLeads(1, 'N2-');
      await db.pool.query(`insert into public.drivers (driver_id) values ('DN2')`);
      expect(await settle()).toBe(0); // the waiting job will take them
      await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test' where id = $1`, [job]);
      await insertLeads(1, 'N3-');
      expect(await settle()).toBe(1); // the job runs: the next one must be queued
    } finally {
      await listener.end();
    }
    expect(await leadChanges()).toEqual(['N1-1', 'N2-1', 'N3-1']);
  });

  it('queues nothing without a waiting change, nor for a change younger than p_min_age_ms', async () => {
    expect((await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id).toBeNull();
    await insertLeads(1);
    expect((await db.pool.query('select ops.queue_arrivals(60000) as id')).rows[0].id).toBeNull();
    await db.pool.query(`update ops.lead_insert_ranges set recorded_at = recorded_at - interval '2 minutes'`);
    expect((await db.pool.query('select ops.queue_arrivals(60000) as id')).rows[0].id).not.toBeNull();
  });

  it('with the switch off, records the changes but queues no job and sends no notification; on again, the work list queues it', async () => {
    await db.pool.query(`update ops.settings set value = 'off' where key = 'arrival_enqueue_enabled'`);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let notifications = 0;
    listener.on('notification', () => void (notifications += 1));
    await listener.query('listen idgap_arrivals');
    try {
      await insertLeads(100);
      await db.pool.query(`insert into public.drivers (driver_id, phone) values ('DS1', '911')`);
      await new Promise((r) => setTimeout(r, 200));
      expect(notifications).toBe(0);
    } finally {
      await listener.end();
    }
    expect((await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id).toBeNull();
    expect(await leadChanges()).toHaveLength(100);
    expect(await driverChanges()).toEqual(['DS1:insert']);
    expect(await arrivalJobs()).toHaveLength(0);
    await db.pool.query(`update ops.settings set value = 'on' where key = 'arrival_enqueue_enabled'`);
    expect((await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id).not.toBeNull();
    expect(await arrivalJobs()).toHaveLength(1);
  });

  it('honours a session that turned queuing off for itself, and only that session', async () => {
    const client = await db.pool.connect();
    try {
      await client.query(`select set_config('idgap.arrival_enqueue', 'off', false)`);
      await client.query(`insert into public.module_ct_cabinet_leads (external_id) values ('S1')`);
      expect((await client.query('select ops.arrival_queuing_on() as on')).rows[0].on).toBe(false);
      expect((await client.query('select ops.queue_arrivals() as id')).rows[0].id).toBeNull();
      await client.query(`reset idgap.arrival_enqueue`);
      expect((await client.query('select ops.arrival_queuing_on() as on')).rows[0].on).toBe(true);
    } finally {
      client.release();
    }
    expect((await db.pool.query('select ops.arrival_queuing_on() as on')).rows[0].on).toBe(true);
    expect(await leadChanges()).toEqual(['S1']);
  });

  it('reuses a waiting job, and queues the next one while a recover_arrivals job runs', async () => {
    await insertLeads(1);
    const first = (await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id;
    expect((await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id).toBe(first);
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test' where id = $1`, [first]);
    const second = (await db.pool.query('select ops.queue_arrivals() as id')).rows[0].id;
    expect(second).not.toBe(first);
    expect(await arrivalJobs()).toHaveLength(2);
  });
});
