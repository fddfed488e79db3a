/**
 * Recovery as data arrives (issue 17): the "Done when" figures.
 *
 *   npm run bench:arrival        (BASE_LEADS, RATE, DURATION, IMPORT_ROWS, IMPORT_PAIRS, LOADER_TX override the defaults)
 *
 * A fresh embedded PostgreSQL under bench/work/arrival-pg (git-ignored). Phases:
 *   A. under `idgap start --no-cron` (child process, worker concurrency 2), with BASE_LEADS leads (a third of them
 *      unresolved after a full recovery) and their drivers loaded and indexed: leads inserted with plain SQL at RATE a
 *      second for DURATION s, each matching a driver already indexed: landed -> linked (ops.lead_changes.recorded_at
 *      -> canon.identity_links.linked_at) p50/p95/p99, recover_arrivals runs, every lead linked, other leads untouched;
 *   B. 1,000 drivers inserted (one statement) for 1,000 pending leads whose phones match them: time until all are
 *      linked, and no other lead's attempt count changes;
 *   D. the worker killed (SIGKILL) in the middle of a 30 s stream, restarted 2 s later: the work list drains and
 *      every linkable lead is linked;
 *   E. (worker stopped) 4 concurrent loaders, single-row insert transactions, alternating three modes: every commit
 *      notifies (no job waiting), a job waiting (ops.notify_arrivals skips the NOTIFY), queuing off for the loaders'
 *      sessions: throughput and pg_stat_activity samples of a loader waiting on a lock (NOTIFY's commit-time lock);
 *   C. (worker stopped) `idgap import leads` of IMPORT_ROWS rows into an empty table, with the arrival triggers
 *      installed vs disabled, alternating IMPORT_PAIRS times: duration, and the queued recover_arrivals jobs after it.
 *      BENCH_DATABASE_URL=postgres://…/postgres PHASES=C runs it on a server of one's own (the machine's stock
 *      PostgreSQL 15) instead: results in bench/results/arrival-import-stock.{md,json}.
 * Results: bench/results/arrival.md and arrival.json.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, startEmbedded } from '../src/db.js';
import { migrateDatabase } from '../src/migrate.js';
import { PROJECT_ROOT } from '../src/paths.js';

const BASE_LEADS = Number(process.env.BASE_LEADS ?? 100_000);
const RATE = Number(process.env.RATE ?? 50);
const DURATION = Number(process.env.DURATION ?? 60);
const KILL_DURATION = Number(process.env.KILL_DURATION ?? 30);
const IMPORT_ROWS = Number(process.env.IMPORT_ROWS ?? 1_000_000);
const IMPORT_PAIRS = Number(process.env.IMPORT_PAIRS ?? 2);
const LOADER_TX = Number(process.env.LOADER_TX ?? 1000);
/** PHASES=C: only the import comparison (a fresh database, no base data), written to bench/results/arrival-import.{md,json}. */
const IMPORT_ONLY = process.env.PHASES === 'C';
/** With PHASES=C: a server of one's own (e.g. the machine's stock PostgreSQL 15) instead of the embedded one; a database idgap_bench_arrival is created there and dropped after. */
const SERVER_URL = process.env.BENCH_DATABASE_URL;
if (SERVER_URL && !IMPORT_ONLY) throw new Error('BENCH_DATABASE_URL is for PHASES=C only');
const WORK = path.join(PROJECT_ROOT, 'bench', 'work');
const RESULTS_BASE = IMPORT_ONLY ? (SERVER_URL ? 'arrival-import-stock' : 'arrival-import') : 'arrival';
const RESULTS_MD = path.join(PROJECT_ROOT, 'bench', 'results', `${RESULTS_BASE}.md`);
const RESULTS_JSON = path.join(PROJECT_ROOT, 'bench', 'results', `${RESULTS_BASE}.json`);
const IDGAP = path.join(PROJECT_ROOT, 'bin', 'idgap.js');
const run = promisify(execFile);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const q = async <T extends pg.QueryResultRow = Record<string, unknown>>(c: pg.ClientBase, sql: string, params: unknown[] = []) => (await c.query<T>(sql, params)).rows;
const one = async (c: pg.ClientBase, sql: string, params: unknown[] = []) => Number(Object.values((await q(c, sql, params))[0]!)[0]);

/* Phone plan: base lead g (1..BASE_LEADS) carries 900000000+g; drivers exist for g % 3 <> 0 (two thirds linkable);
   stream lead k carries 920000000+k and its driver is loaded before the stream; the 1,000 pending leads of phase B
   are base leads with g % 3 = 0, whose drivers arrive in B. */
async function seed(c: pg.Client): Promise<void> {
  await c.query(`set idgap.arrival_enqueue = off`); // a bulk load: recorded, not queued
  await c.query(
    `insert into public.drivers (driver_id, park_id, phone, full_name, hire_date)
     select 'drv-' || g, 'park-1', '51' || (900000000 + g)::text, 'QUISPE MAMANI ROSA', date '2026-08-01'
     from generate_series(1, $1::int) as g where g % 3 <> 0`, [BASE_LEADS]);
  await c.query(
    `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name)
     select 'base-' || g, timestamp '2026-08-15 09:00' + (g % 100) * interval '1 day', (900000000 + g)::text, 'Rosa', 'Quispe'
     from generate_series(1, $1::int) as g`, [BASE_LEADS]);
  await c.query(`reset idgap.arrival_enqueue`);
  await c.query('select * from canon.refresh_drivers_index()');
  await c.query('analyze');
}

async function streamDrivers(c: pg.Client, prefix: string, n: number, phoneBase: number): Promise<void> {
  await c.query(
    `insert into public.drivers (driver_id, park_id, phone, full_name, hire_date)
     select $1 || k, 'park-1', '51' || ($3::bigint + k)::text, 'QUISPE MAMANI ROSA', date '2026-08-01' from generate_series(1, $2::int) as k`,
    [prefix, n, phoneBase]);
  await c.query('select * from canon.refresh_drivers_index()');
  await c.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes'); // "already indexed": nothing waits
}

interface Started {
  child: ChildProcess;
  logFile: string;
}
async function startIdgap(url: string, name: string): Promise<Started> {
  const logFile = path.join(WORK, `arrival-${name}.log`);
  const fd = openSync(logFile, 'w');
  const port = await freePort(0);
  const child = spawn(process.execPath, [IDGAP, 'start', '--no-cron'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: url, API_PORT: String(port), API_TOKEN: 'bench-token-0123456789abcdef', LOG_LEVEL: 'info', IDGAP_LOG_JSON: '1', WORKER_CONCURRENCY: '2' },
    stdio: ['ignore', fd, fd],
  });
  for (let i = 0; ; i++) {
    if (readFileSync(logFile, 'utf8').includes('"arrivals.listening"')) break;
    if (child.exitCode !== null || i > 600) throw new Error(`idgap start did not listen for arrivals (see ${logFile})`);
    await sleep(100);
  }
  return { child, logFile };
}
async function stopIdgap(s: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (s.child.exitCode === null && s.child.signalCode === null) {
    s.child.kill(signal);
    await once(s.child, 'exit');
  }
}

/** Inserts `n` leads, one autocommit INSERT each, at `rate` a second; calls `at(k)` after lead k. */
async function stream(c: pg.Client, prefix: string, n: number, rate: number, phoneBase: number, at?: (k: number) => void): Promise<{ ms: number; lateMs: number }> {
  const started = Date.now();
  let lateMs = 0;
  for (let k = 1; k <= n; k++) {
    const due = started + ((k - 1) * 1000) / rate;
    const now = Date.now();
    if (due > now) await sleep(due - now);
    else lateMs = Math.max(lateMs, now - due);
    await c.query(
      `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name) values ($1, now()::timestamp, $2, 'Rosa', 'Quispe')`,
      [`${prefix}${k}`, String(phoneBase + k)],
    );
    at?.(k);
  }
  return { ms: Date.now() - started, lateMs };
}

async function waitLinked(c: pg.Client, prefix: string, n: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const linked = await one(c, `select count(*) from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk like $1`, [`${prefix}%`]);
    if (linked >= n || Date.now() - started > timeoutMs) return linked;
    await sleep(100);
  }
}

async function latency(c: pg.Client, prefix: string) {
  const [r] = await q<{ n: string; p50: number; p95: number; p99: number; max: number }>(c, `
    with landed as (
      select changes.lead_id, min(changes.recorded_at) as recorded_at from ops.lead_changes as changes where changes.lead_id like $1 group by changes.lead_id
    ),
    timed as (
      select extract(epoch from links.linked_at - landed.recorded_at) as s
      from landed join canon.identity_links as links on links.source_table = 'module_ct_cabinet_leads' and links.source_pk = landed.lead_id
    )
    select count(*) as n, percentile_cont(0.5) within group (order by timed.s) as p50, percentile_cont(0.95) within group (order by timed.s) as p95,
           percentile_cont(0.99) within group (order by timed.s) as p99, max(timed.s) as max
    from timed`, [`${prefix}%`]);
  const round = (x: number) => Math.round(Number(x) * 100) / 100;
  return { timed: Number(r!.n), p50_s: round(r!.p50), p95_s: round(r!.p95), p99_s: round(r!.p99), max_s: round(r!.max) };
}

const attempts = async (c: pg.Client) =>
  new Map((await q<{ source_id: string; attempt_count: number }>(c, 'select source_id, attempt_count from ops.identity_matching_jobs')).map((r) => [r.source_id, r.attempt_count]));

async function arrivalRuns(c: pg.Client, since: Date) {
  const [r] = await q<{ runs: string; failed: string; processed: string; matched: string }>(c, `
    select count(*) as runs, count(*) filter (where state = 'failed') as failed, coalesce(sum(processed), 0) as processed, coalesce(sum(matched), 0) as matched
    from ops.job_runs where task = 'recover_arrivals' and started_at >= $1`, [since]);
  return { runs: Number(r!.runs), failed: Number(r!.failed), processed: Number(r!.processed), matched: Number(r!.matched) };
}

/** A fresh database idgap_bench_arrival on a server of one's own, dropped by stop(). */
async function serverDatabase(serverUrl: string): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const admin = async (sql: string) => {
    const a = new pg.Client({ connectionString: serverUrl });
    await a.connect();
    try {
      await a.query(sql);
    } finally {
      await a.end();
    }
  };
  await admin('drop database if exists idgap_bench_arrival with (force)');
  await admin('create database idgap_bench_arrival');
  const u = new URL(serverUrl);
  u.pathname = '/idgap_bench_arrival';
  say(`using ${u.host}${u.pathname}`);
  return { connectionString: u.toString(), stop: () => admin('drop database if exists idgap_bench_arrival with (force)') };
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const home = path.join(WORK, 'arrival-pg');
  rmSync(home, { recursive: true, force: true });
  const db = SERVER_URL ? await serverDatabase(SERVER_URL) : (say('starting an embedded PostgreSQL under bench/work/arrival-pg'), await startEmbedded({ home, database: 'idgap_bench_arrival', port: 0 }));
  const url = db.connectionString;
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(os.totalmem() / 1024 ** 3), node: process.version, load_at_start: os.loadavg().map((x) => Math.round(x * 10) / 10) },
    server: SERVER_URL ? `PostgreSQL at ${new URL(SERVER_URL).host} (its own settings)` : 'embedded PostgreSQL (server flags of src/db.ts)',
    settings: { arrival_batch_delay_ms: 1000, worker_concurrency: 2, poll_interval_ms: 2000 },
  };
  let idgap: Started | undefined;
  const c = new pg.Client({ connectionString: url, application_name: 'bench-arrival' });
  try {
    await migrateDatabase(url);
    await c.connect();
    c.on('error', () => undefined);
    out.server_version = (await q<{ v: string }>(c, "select current_setting('server_version') as v"))[0]!.v;

    if (!IMPORT_ONLY) {
    say(`seeding ${BASE_LEADS} leads and their drivers (two thirds linkable), full recovery`);
    let t = Date.now();
    await seed(c);
    await run(process.execPath, [IDGAP, 'recover', '--json'], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' }, maxBuffer: 1 << 26 });
    await c.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes');
    const unresolved = await one(c, `select count(*) from public.module_ct_cabinet_leads as leads where not exists (select 1 from canon.identity_links as links where links.source_table = 'module_ct_cabinet_leads' and links.source_pk = leads.external_id)`);
    out.base = { leads: BASE_LEADS, unresolved, seed_and_recovery_ms: Date.now() - t };
    say(`base: ${unresolved} of ${BASE_LEADS} unresolved`);

    const n = RATE * DURATION;
    await streamDrivers(c, 'sdrv-', n + KILL_DURATION * RATE, 920000000);
    idgap = await startIdgap(url, 'start');

    /* A. The stream. */
    say(`A: ${n} leads at ${RATE}/s for ${DURATION} s`);
    const before = await attempts(c);
    const aStart = new Date();
    const s = await stream(c, 'stream-', n, RATE, 920000000);
    const linkedA = await waitLinked(c, 'stream-', n, 60_000);
    await sleep(3000);
    const after = await attempts(c);
    const touched = [...before].filter(([lead, count]) => after.get(lead) !== count).length;
    out.stream = { leads: n, rate: RATE, duration_s: DURATION, stream_ms: s.ms, insert_late_max_ms: s.lateMs, linked: linkedA, ...(await latency(c, 'stream-')), recover_arrivals: await arrivalRuns(c, aStart), base_leads_attempt_changed: touched };
    say(`A: ${JSON.stringify(out.stream)}`);

    /* B. 1,000 drivers for 1,000 pending leads. */
    const targets = (await q<{ g: number }>(c, `
      select substr(jobs.source_id, 6)::int as g from ops.identity_matching_jobs as jobs
      where jobs.source_id like 'base-%' and jobs.status = 'pending' order by jobs.source_id limit 1000`)).map((r) => r.g);
    const beforeB = await attempts(c);
    const bStart = new Date();
    t = Date.now();
    await c.query(
      `insert into public.drivers (driver_id, park_id, phone, full_name, hire_date)
       select 'bdrv-' || g, 'park-1', '51' || (900000000 + g)::text, 'QUISPE MAMANI ROSA', date '2026-08-01' from unnest($1::int[]) as g`, [targets]);
    const targetIds = targets.map((g) => `base-${g}`);
    let linkedB = 0;
    let linkedMs = 0;
    for (;;) {
      linkedB = await one(c, `select count(*) from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = any($1)`, [targetIds]);
      linkedMs = Date.now() - t;
      if (linkedB >= targets.length || linkedMs > 60_000) break;
      await sleep(50);
    }
    await sleep(2000);
    const afterB = await attempts(c);
    const targetSet = new Set(targetIds);
    const othersChanged = [...beforeB].filter(([lead, count]) => !targetSet.has(lead) && afterB.get(lead) !== count).length;
    const targetsPlusOne = targetIds.filter((id) => afterB.get(id) === (beforeB.get(id) ?? 0) + 1).length;
    out.drivers_for_pending = { drivers: targets.length, linked: linkedB, all_linked_after_ms: linkedMs, targets_attempted_once_more: targetsPlusOne, other_leads_attempt_changed: othersChanged, recover_arrivals: await arrivalRuns(c, bStart) };
    say(`B: ${JSON.stringify(out.drivers_for_pending)}`);

    /* D. The worker killed in the middle of a stream. */
    const nD = RATE * KILL_DURATION;
    say(`D: ${nD} leads at ${RATE}/s, SIGKILL at the middle, restart 2 s later`);
    let killed: Promise<void> | undefined;
    let restarted: Promise<Started> | undefined;
    let restartAt = 0;
    const dStart = new Date();
    const first = idgap;
    await stream(c, 'kill-', nD, RATE, 920000000 + n, (k) => {
      if (k === Math.floor(nD / 2)) {
        killed = stopIdgap(first, 'SIGKILL');
        restarted = killed.then(async () => {
          await sleep(2000);
          restartAt = Date.now();
          return startIdgap(url, 'restarted');
        });
      }
    });
    idgap = await restarted!;
    const linkedD = await waitLinked(c, 'kill-', nD, 120_000);
    let drainedMs = 0;
    for (;;) {
      const open = await one(c, 'select (select count(*) from ops.lead_changes where taken_at is null) + (select count(*) from ops.lead_insert_ranges)');
      drainedMs = Date.now() - restartAt;
      if (open === 0 || drainedMs > 120_000) break;
      await sleep(100);
    }
    out.worker_killed = { leads: nD, linked: linkedD, work_list_drained_after_restart_ms: drainedMs, untaken_left: await one(c, 'select (select count(*) from ops.lead_changes where taken_at is null) + (select coalesce(sum(lead_count), 0) from ops.lead_insert_ranges)'), ...(await latency(c, 'kill-')), recover_arrivals: await arrivalRuns(c, dStart) };
    say(`D: ${JSON.stringify(out.worker_killed)}`);
    await stopIdgap(idgap);
    idgap = undefined;

    /* E. 4 concurrent loaders, NOTIFY on vs off. */
    say(`E: 4 loaders x ${LOADER_TX} single-row transactions, NOTIFY on / off alternating`);
    const loaders = await Promise.all([0, 1, 2, 3].map(async () => {
      const l = new pg.Client({ connectionString: url, application_name: 'bench-loader' });
      await l.connect();
      return l;
    }));
    /*
     * Three modes, alternating: `every commit` (no recover_arrivals job waiting: every transaction notifies, the
     * worst case), `job waiting` (a job waits, as under a stream: ops.notify_arrivals skips the NOTIFY), `off`
     * (queuing switched off for the loaders' sessions: no NOTIFY, the same trigger and rows).
     */
    type Mode = 'every commit' | 'job waiting' | 'off';
    const eRuns: Array<{ mode: Mode; ms: number; tx_per_s: number; samples: number; lock_wait_samples: number; notifications: number }> = [];
    const watcher = new pg.Client({ connectionString: url, application_name: 'bench-watcher' });
    await watcher.connect();
    let notifications = 0;
    watcher.on('notification', () => void (notifications += 1));
    await watcher.query('listen idgap_arrivals');
    let round = 0;
    for (const mode of ['every commit', 'job waiting', 'off', 'every commit', 'job waiting', 'off'] as Mode[]) {
      round += 1;
      await c.query(`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'recover_arrivals')`);
      if (mode === 'job waiting') {
        await c.query(`insert into public.module_ct_cabinet_leads (external_id) values ($1)`, [`loader-seed-${round}`]);
        await c.query('select ops.queue_arrivals()');
      }
      for (const l of loaders) await l.query(`select set_config('idgap.arrival_enqueue', $1, false)`, [mode === 'off' ? 'off' : 'on']);
      await sleep(200);
      notifications = 0;
      let sampling = true;
      let samples = 0;
      let lockWaits = 0;
      const sampler = (async () => {
        while (sampling) {
          lockWaits += await one(c, `select count(*) from pg_stat_activity where application_name = 'bench-loader' and wait_event_type = 'Lock'`);
          samples += 1;
          await sleep(5);
        }
      })();
      const t0 = Date.now();
      await Promise.all(loaders.map(async (l, k) => {
        for (let i = 0; i < LOADER_TX; i++) {
          await l.query(`insert into public.module_ct_cabinet_leads (external_id, park_phone) values ($1, '911')`, [`loader-${round}-${k}-${i}`]);
        }
      }));
      const ms = Date.now() - t0;
      sampling = false;
      await sampler;
      await sleep(200);
      eRuns.push({ mode, ms, tx_per_s: Math.round((4 * LOADER_TX * 1000) / ms), samples, lock_wait_samples: lockWaits, notifications });
      say(`E: ${JSON.stringify(eRuns.at(-1))}`);
    }
    await watcher.end();
    await c.query(`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'recover_arrivals')`);
    for (const l of loaders) await l.end();
    out.concurrent_loaders = eRuns;
    }

    /* C. 1M import with and without the triggers. */
    const csv = path.join(WORK, 'arrival-import-leads.csv');
    say(`C: writing ${IMPORT_ROWS} leads to ${csv}`);
    {
      const w = createWriteStream(csv);
      w.write('external_id,lead_created_at,park_phone,first_name,last_name,asset_plate_number\n');
      for (let i = 1; i <= IMPORT_ROWS; i++) {
        if (!w.write(`imp-${i},2026-10-01 10:00:00,${String(930000000 + i)},Rosa,Quispe,B${String(i % 999999).padStart(6, '0')}\n`)) await once(w, 'drain');
      }
      w.end();
      await once(w, 'finish');
    }
    const cRuns: Array<{ triggers: boolean; ms: number; phases_ms: Record<string, number>; leads_recorded: number; insert_ranges: number; recovery_job_id: number | null; recover_arrivals_jobs_queued: number }> = [];
    for (let p = 0; p < IMPORT_PAIRS; p++) {
      for (const triggers of [true, false]) {
        await c.query('truncate public.module_ct_cabinet_leads, ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes');
        await c.query(`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'recover_arrivals')`);
        await c.query(`alter table public.module_ct_cabinet_leads ${triggers ? 'enable' : 'disable'} trigger arrival_lead_inserts`);
        await c.query(`alter table public.module_ct_cabinet_leads ${triggers ? 'enable' : 'disable'} trigger arrival_lead_updates`);
        await c.query('checkpoint');
        const { stdout } = await run(process.execPath, [IDGAP, 'import', 'leads', csv, '--json'], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' }, maxBuffer: 1 << 26 });
        const summary = JSON.parse(stdout) as { duration_ms: number; inserted: number; recovery_job_id: number | null; phases_ms: Record<string, number> };
        if (summary.inserted !== IMPORT_ROWS) throw new Error(`import inserted ${summary.inserted}, expected ${IMPORT_ROWS}`);
        cRuns.push({
          triggers,
          ms: summary.duration_ms,
          phases_ms: summary.phases_ms,
          leads_recorded: await one(c, 'select (select count(*) from ops.lead_changes) + (select coalesce(sum(lead_count), 0) from ops.lead_insert_ranges)'),
          insert_ranges: await one(c, 'select count(*) from ops.lead_insert_ranges'),
          recovery_job_id: summary.recovery_job_id,
          recover_arrivals_jobs_queued: await one(c, `select count(*) from graphile_worker.jobs where task_identifier = 'recover_arrivals'`),
        });
        say(`C: ${JSON.stringify(cRuns.at(-1))}`);
      }
    }
    await c.query('alter table public.module_ct_cabinet_leads enable trigger arrival_lead_inserts');
    await c.query('alter table public.module_ct_cabinet_leads enable trigger arrival_lead_updates');
    rmSync(csv, { force: true });
    out.import = cRuns;
    out.load_at_end = os.loadavg().map((x) => Math.round(x * 10) / 10);

    writeFileSync(RESULTS_JSON, `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(RESULTS_MD, IMPORT_ONLY ? importMarkdown(out) : markdown(out));
    say(`written ${path.relative(PROJECT_ROOT, RESULTS_MD)} and ${path.relative(PROJECT_ROOT, RESULTS_JSON)}`);
  } finally {
    if (idgap) await stopIdgap(idgap).catch(() => undefined);
    await c.end().catch(() => undefined);
    await db.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function importTable(o: Record<string, any>): string {
  const withT = (o.import as any[]).filter((r) => r.triggers).map((r) => r.ms);
  const withoutT = (o.import as any[]).filter((r) => !r.triggers).map((r) => r.ms);
  return `| run | triggers | duration | stream / validate / upsert / finish | leads recorded (ops.lead_changes + ops.lead_insert_ranges) | range rows | recovery_job_id | recover_arrivals jobs queued after |
|---|---|---|---|---|---|---|---|
${(o.import as any[]).map((r, i) => `| ${i + 1} | ${r.triggers ? 'installed' : 'disabled'} | ${(r.ms / 1000).toFixed(1)} s | ${['stream', 'validate', 'upsert', 'finish'].map((k) => (r.phases_ms[k] / 1000).toFixed(1)).join(' / ')} s | ${(r.leads_recorded ?? r.lead_changes).toLocaleString('en-US')} | ${r.insert_ranges ?? '—'} | ${r.recovery_job_id ?? '—'} | ${r.recover_arrivals_jobs_queued} |`).join('\n')}

Median: installed ${(median(withT) / 1000).toFixed(1)} s, disabled ${(median(withoutT) / 1000).toFixed(1)} s: ${((median(withT) / median(withoutT) - 1) * 100).toFixed(1)} % longer (goal ≤ 10 %).
`;
}

function importMarkdown(o: Record<string, any>): string {
  return `# Recovery as data arrives: \`idgap import leads\` with and without the arrival triggers

Run with \`${SERVER_URL ? 'BENCH_DATABASE_URL=… ' : ''}PHASES=C npm run bench:arrival\` (bench/arrival.ts) on ${String(o.date).slice(0, 10)}: ${o.machine.cpus} × ${o.machine.cpu}, ${o.machine.memory_gib} GiB,
Node ${o.machine.node}, ${o.server} ${o.server_version}; shared machine, load average ${o.machine.load_at_start.join(' / ')} at the start,
${o.load_at_end.join(' / ')} at the end. ${IMPORT_ROWS.toLocaleString('en-US')} leads imported into an empty table, triggers installed vs
disabled (\`alter table … disable trigger\`), alternating; no worker running, so the queued job stays queued.

${importTable(o)}`;
}

function markdown(o: Record<string, any>): string {
  const byMode = (m: string) => median((o.concurrent_loaders as any[]).filter((r) => r.mode === m).map((r) => r.tx_per_s));
  return `# Recovery as data arrives (issue 17)

Run with \`npm run bench:arrival\` (bench/arrival.ts) on ${String(o.date).slice(0, 10)}: ${o.machine.cpus} × ${o.machine.cpu}, ${o.machine.memory_gib} GiB,
Node ${o.machine.node}, ${o.server} ${o.server_version}; the machine is shared (load average ${o.machine.load_at_start.join(' / ')} at the start,
${o.load_at_end.join(' / ')} at the end). \`idgap start --no-cron\`, worker concurrency 2, \`arrival_batch_delay_ms\` 1000, Graphile poll interval 2 s.

Base: ${o.base.leads.toLocaleString('en-US')} leads and their drivers loaded and indexed, a full recovery run: ${o.base.unresolved.toLocaleString('en-US')} unresolved.

## A. Leads inserted with plain SQL at ${o.stream.rate}/s for ${o.stream.duration_s} s, their drivers already indexed
| figure | value | goal |
|---|---|---|
| leads inserted / linked | ${o.stream.leads} / ${o.stream.linked} | every one |
| landed → linked p50 | ${o.stream.p50_s} s | |
| landed → linked p95 | ${o.stream.p95_s} s | ≤ 5 s |
| landed → linked p99 | ${o.stream.p99_s} s | ≤ 10 s |
| landed → linked max | ${o.stream.max_s} s | |
| recover_arrivals runs | ${o.stream.recover_arrivals.runs} (failed ${o.stream.recover_arrivals.failed}; ${o.stream.recover_arrivals.processed} leads processed) | a handful per burst window |
| base leads whose attempt count changed | ${o.stream.base_leads_attempt_changed} | 0 |
| the stream's own lateness (max) | ${o.stream.insert_late_max_ms} ms | |

Landed = \`ops.lead_changes.recorded_at\` (the trigger's clock time), linked = \`canon.identity_links.linked_at\`.

## B. 1,000 drivers inserted (one statement) for 1,000 pending leads whose phones match them
| figure | value | goal |
|---|---|---|
| leads linked | ${o.drivers_for_pending.linked} / ${o.drivers_for_pending.drivers} | all |
| all linked after | ${(o.drivers_for_pending.all_linked_after_ms / 1000).toFixed(2)} s | ≤ 10 s |
| those leads attempted once more | ${o.drivers_for_pending.targets_attempted_once_more} | |
| other leads whose attempt count changed | ${o.drivers_for_pending.other_leads_attempt_changed} | 0 |
| recover_arrivals runs | ${o.drivers_for_pending.recover_arrivals.runs} | |

## D. The worker killed (SIGKILL) in the middle of a ${o.worker_killed.leads}-lead stream, restarted 2 s later
| figure | value | goal |
|---|---|---|
| leads linked | ${o.worker_killed.linked} / ${o.worker_killed.leads} | all |
| work list drained, after the restart | ${(o.worker_killed.work_list_drained_after_restart_ms / 1000).toFixed(2)} s (untaken left: ${o.worker_killed.untaken_left}) | |
| landed → linked p50 / p95 / max | ${o.worker_killed.p50_s} / ${o.worker_killed.p95_s} / ${o.worker_killed.max_s} s | (the outage included) |
| recover_arrivals runs (failed) | ${o.worker_killed.recover_arrivals.runs} (${o.worker_killed.recover_arrivals.failed}) | |

## E. 4 concurrent loaders, single-row insert transactions: does NOTIFY make them wait on each other?
The same trigger and rows in three modes, alternating: \`every commit\` (no recover_arrivals job waiting, so every
transaction notifies: the worst case), \`job waiting\` (a job waits, as under a stream: \`ops.notify_arrivals\` skips
the NOTIFY), \`off\` (queuing switched off for the loaders' sessions: no NOTIFY). Sampled every ~5 ms: loaders in
pg_stat_activity waiting on a lock (NOTIFY's commit-time lock shows as Lock / object), summed over the samples.

| mode | transactions | time | tx/s | samples | loader-samples waiting on a lock | notifications received |
|---|---|---|---|---|---|---|
${(o.concurrent_loaders as any[]).map((r) => `| ${r.mode} | ${4 * Number(process.env.LOADER_TX ?? 1000)} | ${r.ms} ms | ${r.tx_per_s} | ${r.samples} | ${r.lock_wait_samples} | ${r.notifications} |`).join('\n')}

Median tx/s: every commit ${byMode('every commit')}, job waiting ${byMode('job waiting')}, off ${byMode('off')}.

## C. \`idgap import leads\` of ${IMPORT_ROWS.toLocaleString('en-US')} rows into an empty table, triggers installed vs disabled (alternating)
${importTable(o)}`;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
