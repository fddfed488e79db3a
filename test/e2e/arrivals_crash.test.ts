/**
 * Recovery as data arrives survives a killed worker: leads stream in with plain SQL at 50 a second while `idgap start`
 * links them; the worker is killed (SIGKILL) in the middle of the stream, the stream goes on (its notifications reach
 * no one), and after a restart the work list drains and every linkable lead is linked. Sized for the shared 2-core
 * machine: 300 leads over 6 s (IDGAP_ARRIVALS_LEADS to change).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';
import { expectInvariants } from '../support/invariants.js';
import { spawnWorker, until, type WorkerProcess } from '../support/worker-process.js';

const LEADS = Number(process.env.IDGAP_ARRIVALS_LEADS ?? 300);
const RATE = 50;

const db = await useTestDatabase();
const workers: WorkerProcess[] = [];

beforeAll(async () => ensureCliBuilt(), 180_000);
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linkedStreamLeads = async () =>
  (await db.pool.query<{ n: number }>(
    `select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk like 'stream-%'`,
  )).rows[0]!.n;

describe('recovery as data arrives, with the worker killed mid-stream', () => {
  it('drains the work list after a restart and links every linkable lead', async () => {
    /* The stream's drivers are in the index before it starts; a few hundred resolved and unresolved leads around them. */
    await db.pool.query(`
      insert into public.drivers (driver_id, park_id, phone, full_name)
      select 'drv-' || n, 'park-1', '51' || (987000000 + n)::text, 'QUISPE MAMANI ROSA' from generate_series(1, $1::int) as n`, [LEADS]);
    await db.pool.query(`
      insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name)
      select 'base-' || n, '2026-11-01 10:00', (700000000 + n)::text, 'Ana', 'Luna' from generate_series(1, 200) as n`);
    await db.pool.query('select * from canon.refresh_drivers_index()');
    await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes restart identity');

    const first = spawnWorker(db.url, { concurrency: 2 });
    workers.push(first);
    await first.waitFor((l) => l.event === 'arrivals.listening', 60_000);

    const started = Date.now();
    let killedAt = 0;
    for (let k = 1; k <= LEADS; k++) {
      const due = started + ((k - 1) * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      await db.pool.query(
        `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name)
         values ($1, now()::timestamp, $2, 'Rosa', 'Quispe')`,
        [`stream-${k}`, String(987000000 + k)],
      );
      if (k === Math.floor(LEADS / 2)) {
        first.kill('SIGKILL');
        killedAt = Date.now();
      }
    }
    expect((await first.exited).signal).toBe('SIGKILL');
    const linkedAtKill = first.lines.filter((l) => l.event === 'run.succeeded' && l.task === 'recover_arrivals').length;
    expect(linkedAtKill).toBeGreaterThan(0); // the first worker was linking before it was killed
    expect(killedAt).toBeGreaterThan(0);
    expect(await linkedStreamLeads()).toBeLessThan(LEADS);

    const second = spawnWorker(db.url, { concurrency: 2 });
    workers.push(second);
    await until(async () => (await linkedStreamLeads()) === LEADS, 120_000, 250);
    await until(async () => {
      const { rows } = await db.pool.query<{ n: number }>(`select (select count(*) from ops.lead_changes where taken_at is null) + (select count(*) from ops.lead_insert_ranges) as n`);
      return Number(rows[0]!.n) === 0;
    }, 60_000, 250);
    const { rows: recorded } = await db.pool.query<{ n: number }>(`select count(distinct lead_id)::int as n from ops.lead_changes where lead_id like 'stream-%'`);
    expect(recorded[0]!.n).toBe(LEADS);
    /* The base leads were never touched: no recovery of the whole gap ran. */
    const { rows: base } = await db.pool.query<{ n: number }>(`select count(*)::int as n from ops.identity_matching_jobs where source_id like 'base-%'`);
    expect(base[0]!.n).toBe(0);
    await expectInvariants(db.pool);
    second.kill('SIGTERM');
    await second.exited;
  }, 300_000);
});
