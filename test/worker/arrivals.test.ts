/**
 * The hand-off of recovery as data arrives, in the worker process: the arrivals listener (src/worker.ts) queues one
 * recover_arrivals job for a burst; concurrent loaders never wait on each other; a listener that was down or lost
 * its connection queues from the work list; `idgap import` records every row and queues one job after the load.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importCsv } from '../../src/import/import.js';
import { listenForArrivals } from '../../src/worker.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { resetData } from '../support/fixtures.js';
import { capturingLog, silentLog } from '../support/log.js';
import { until } from '../support/worker-process.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes restart identity');
  await db.pool.query(`update ops.settings set value = 'on' where key = 'arrival_enqueue_enabled'`);
  await db.pool.query(`update ops.settings set value = '1000' where key = 'arrival_batch_delay_ms'`);
});

const arrivalJobs = async () =>
  (await db.pool.query<{ id: string }>(`select id from graphile_worker.jobs where task_identifier = 'recover_arrivals'`)).rows;
/* The leads the triggers recorded, one each (inserts are recorded as ranges of ids: expanded as an incremental run does first). */
const recordedLeads = async () => {
  await db.pool.query('select ops.expand_lead_insert_ranges()');
  return (await db.pool.query<{ n: number }>('select count(*)::int as n from ops.lead_changes')).rows[0]!.n;
};
const insertLeads = (q: pg.Pool | pg.ClientBase, n: number, prefix: string) =>
  q.query(
    `insert into public.module_ct_cabinet_leads (external_id, park_phone, first_name, last_name)
     select $2 || g, '9' || lpad(g::text, 8, '0'), 'Ana', 'Quispe' from generate_series(1, $1::int) as g`,
    [n, prefix],
  );

describe('the arrivals listener', () => {
  it('queues one recover_arrivals job for a burst of 10,000 inserts in 100 transactions', async () => {
    const listener = listenForArrivals({ connectionString: db.url, log: silentLog() });
    await listener.ready;
    try {
      for (let k = 0; k < 100; k++) await insertLeads(db.pool, 100, `B${k}-`);
      await until(async () => (await arrivalJobs()).length > 0, 10_000);
      await new Promise((r) => setTimeout(r, 500)); // late notifications find the job waiting
    } finally {
      await listener.stop();
    }
    expect((await recordedLeads())).toBe(10_000);
    expect(await arrivalJobs()).toHaveLength(1);
  });

  it('lets 4 concurrent loaders commit while another loader holds its transaction open', async () => {
    const listener = listenForArrivals({ connectionString: db.url, log: silentLog() });
    await listener.ready;
    const loaders = await Promise.all([0, 1, 2, 3].map(() => db.pool.connect()));
    try {
      const [held, ...others] = loaders;
      await held!.query('begin');
      await insertLeads(held!, 500, 'HELD-');
      await held!.query(`insert into public.drivers (driver_id, phone) values ('DH', '911')`);
      /* The other loaders insert, commit, and the listener queues a job for them, while the first is still open. */
      await Promise.all(
        others.map(async (c, k) => {
          for (let t = 0; t < 5; t++) {
            await c.query('begin');
            await insertLeads(c, 100, `L${k}-${t}-`);
            await c.query(`insert into public.drivers (driver_id, phone) values ($1, '911')`, [`D${k}-${t}`]);
            await c.query('commit');
          }
        }),
      );
      await until(async () => (await arrivalJobs()).length > 0, 10_000);
      const { rows: waiting } = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      expect(waiting[0]!.n).toBe(0);
      await held!.query('commit');
    } finally {
      for (const c of loaders) c.release();
      await listener.stop();
    }
    expect((await recordedLeads())).toBe(500 + 3 * 5 * 100);
    expect((await db.pool.query('select count(*)::int as n from ops.driver_changes')).rows[0].n).toBe(1 + 3 * 5);
    expect(await arrivalJobs()).toHaveLength(1);
  });

  it('queues from the work list at start-up for changes recorded while it was down', async () => {
    await insertLeads(db.pool, 20, 'DOWN-'); // the notification went to no one
    await db.pool.query(`update ops.lead_insert_ranges set recorded_at = recorded_at - interval '5 seconds'`); // older than the batching delay
    expect(await arrivalJobs()).toHaveLength(0);
    const listener = listenForArrivals({ connectionString: db.url, log: silentLog() });
    await listener.ready;
    try {
      expect(await arrivalJobs()).toHaveLength(1);
    } finally {
      await listener.stop();
    }
  });

  it('reconnects after losing its connection, and queues what arrived meanwhile', async () => {
    const { log, lines } = capturingLog();
    const listener = listenForArrivals({ connectionString: db.url, log });
    await listener.ready;
    try {
      await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'idgap-arrivals' and datname = current_database()`);
      await until(async () => lines.some((l) => l.event === 'arrivals.connection_lost'), 10_000);
      await insertLeads(db.pool, 5, 'GAP-');
      await db.pool.query(`update ops.lead_insert_ranges set recorded_at = recorded_at - interval '5 seconds'`);
      await until(async () => (await arrivalJobs()).length > 0, 15_000);
      expect(lines.filter((l) => l.event === 'arrivals.listening')).toHaveLength(2);
    } finally {
      await listener.stop();
    }
  });

  it('queues nothing while the switch is off; the sweep queues once it is on again', async () => {
    await db.pool.query(`update ops.settings set value = 'off' where key = 'arrival_enqueue_enabled'`);
    await db.pool.query(`update ops.settings set value = '1000' where key = 'arrival_sweep_interval_ms'`);
    const listener = listenForArrivals({ connectionString: db.url, log: silentLog() });
    await listener.ready;
    try {
      await insertLeads(db.pool, 50, 'OFF-');
      await new Promise((r) => setTimeout(r, 1500));
      expect(await arrivalJobs()).toHaveLength(0);
      await db.pool.query(`update ops.settings set value = 'on' where key = 'arrival_enqueue_enabled'`);
      await until(async () => (await arrivalJobs()).length > 0, 10_000);
    } finally {
      await listener.stop();
      await db.pool.query(`update ops.settings set value = '5000' where key = 'arrival_sweep_interval_ms'`);
    }
    expect((await recordedLeads())).toBe(50);
  });
});

describe('idgap import and the arrival work lists', () => {
  it('records every imported lead and driver, notifies no one, and queues one recover_arrivals job after the load', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idgap-arrivals-'));
    const leads = path.join(dir, 'leads.csv');
    writeFileSync(leads, 'external_id,lead_created_at,park_phone,first_name,last_name\n' + Array.from({ length: 5000 }, (_, k) => `IMP-${k},2026-01-01,9${String(k).padStart(8, '0')},Ana,Quispe\n`).join(''));
    const drivers = path.join(dir, 'drivers.csv');
    writeFileSync(drivers, 'driver_id,phone,full_name\n' + Array.from({ length: 300 }, (_, k) => `IMPD-${k},9${String(k).padStart(8, '0')},Ana Quispe\n`).join(''));
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    let notifications = 0;
    watcher.on('notification', () => void (notifications += 1));
    await watcher.query('listen idgap_arrivals');
    try {
      const first = await importCsv(db.pool, 'leads', leads, silentLog());
      const second = await importCsv(db.pool, 'drivers', drivers, silentLog());
      await new Promise((r) => setTimeout(r, 200));
      expect(notifications).toBe(0);
      expect(first.recovery_job_id).not.toBeNull();
      expect(second.recovery_job_id).toBe(first.recovery_job_id); // the job still waiting takes the drivers too
    } finally {
      await watcher.end();
    }
    expect((await recordedLeads())).toBe(5000);
    expect((await db.pool.query('select count(*)::int as n from ops.driver_changes')).rows[0].n).toBe(300);
    expect(await arrivalJobs()).toHaveLength(1);
    /* The override was the import's transaction's alone: the pool's connections queue as usual. */
    expect((await db.pool.query('select ops.arrival_queuing_on() as on')).rows[0].on).toBe(true);
  });

  it('leaves the switch on and records nothing when the import fails', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idgap-arrivals-'));
    const bad = path.join(dir, 'leads.csv');
    /* Read into the database first, refused after: a file in another encoding. */
    writeFileSync(bad, Buffer.concat([Buffer.from('external_id,lead_created_at,park_phone\nX-1,2026-01-01,911\n'), Buffer.from('X-\xe9,2026-01-01,911\n'.repeat(5), 'latin1')]));
    await expect(importCsv(db.pool, 'leads', bad, silentLog())).rejects.toThrow(/not UTF-8/);
    expect((await recordedLeads())).toBe(0);
    expect((await db.pool.query(`select value from ops.settings where key = 'arrival_enqueue_enabled'`)).rows[0].value).toBe('on');
    expect(await arrivalJobs()).toHaveLength(0);
  });
});
