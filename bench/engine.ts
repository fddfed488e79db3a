/**
 * Engine benchmark (issue 15 items 6, 7, 8): one generated data set, loaded once per server into a template
 * database; every measured recovery runs on a fresh copy of it (create database … template …), so runs compare
 * like with like. For each server (--database-url, repeatable; `embedded` is a throwaway embedded PostgreSQL):
 *
 *   - recovery time with 1 lane and with 2 lanes (--lanes), --repeats times, alternating;
 *   - the floor, measured in the same run on the same server: one hash join of the leads to the drivers index
 *     on the normalised phone, plus a bulk re-write of the recovery's own result (the same rows into copies of
 *     the tables, with the same indexes); ratio = recovery (1 lane) / floor;
 *   - with --split 1,3: a split run on 1 and on 3 worker processes (`idgap start --worker-only`);
 *   - with --engine-dir DIR: the engine of another checkout (built: DIR/dist), alternated run by run with this
 *     one (old against new in one session, PERFORMANCE-NOTES); each engine migrates its own copies.
 *
 *   npm run bench:perf -- --mode engine --leads 200000 [--database-url embedded] [--database-url postgres://…]
 *        [--lanes 1,2] [--repeats 3] [--split 1,3] [--engine-dir ../old] [--batch-size 5000] [--seed 1]
 *
 * Writes bench/results/engine.md and engine.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createPool, startEmbedded } from '../src/db.js';
import { generate } from '../src/generate/generate.js';
import { createLogger, type Log } from '../src/log.js';
import { PROJECT_ROOT } from '../src/paths.js';

export interface EngineBenchOptions {
  leads: number;
  seed: number;
  batchSize: number;
  repeats: number;
  lanes: number[];
  split: number[];
  databaseUrls: string[];
  engineDir?: string;
  /** Also this engine with ops.settings near_keys_enabled = 0, alternated run by run (issue 16's cost of near keys). */
  nearKeysOff?: boolean;
  out: string;
}

interface Engine {
  name: string;
  dir: string;
  migrateDatabase: (url: string, log?: Log) => Promise<unknown>;
  runRecovery: (client: pg.PoolClient, runId: number, params: Record<string, unknown>, log: Log, hooks: Record<string, unknown>) => Promise<{ processed: number; matched: number }>;
  withRun: (withClient: unknown, opts: Record<string, unknown>, body: (params: Record<string, unknown>, ctx: { client: pg.PoolClient; runId: number; log: Log }) => Promise<unknown>) => Promise<{ runId: number }>;
  poolClient: (pool: pg.Pool) => unknown;
  recoveryParamsSchema: unknown;
  /** The engine's own importer: an older checkout's schema lacks what this checkout's importer calls (ops.queue_arrivals). */
  importCsv: (pool: pg.Pool, kind: string, file: string, log: Log) => Promise<unknown>;
  /** Settings written into each fresh copy before its recovery (this engine's template is shared). */
  settings?: Record<string, string>;
}

export async function loadEngine(dir: string, name: string): Promise<Engine> {
  const mod = async (p: string) => import(pathToFileURL(path.join(dir, 'dist', p)).href);
  const [migrate, recovery, runs, importer] = await Promise.all([mod('src/migrate.js'), mod('src/recovery.js'), mod('src/runs.js'), mod('src/import/import.js')]);
  return { name, dir, migrateDatabase: migrate.migrateDatabase, runRecovery: recovery.runRecovery, withRun: runs.withRun, poolClient: runs.poolClient, recoveryParamsSchema: recovery.recoveryParamsSchema, importCsv: importer.importCsv };
}

const dbUrl = (base: string, name: string) => {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
};

async function admin<T>(base: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A template database per engine: migrated by that engine, data imported and the drivers index refreshed. */
export async function buildTemplate(base: string, engine: Engine, name: string, dataDir: string, log: Log): Promise<void> {
  await admin(base, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name}`);
  });
  const url = dbUrl(base, name);
  await engine.migrateDatabase(url, log);
  const pool = createPool(url, 2, 'idgap-bench');
  try {
    await engine.importCsv(pool, 'leads', path.join(dataDir, 'leads.csv'), log);
    await engine.importCsv(pool, 'drivers', path.join(dataDir, 'drivers.csv'), log);
    const started = performance.now();
    await pool.query('select * from canon.refresh_drivers_index()');
    process.stderr.write(`[engine] ${name}: first drivers index refresh ${Math.round(performance.now() - started)} ms\n`);
    /* The near keys' variant tables, when this engine has them: their first build and a refresh that changes nothing. */
    if ((await pool.query(`select exists (select 1 from pg_proc where proname = 'refresh_near_keys' and pronamespace = 'canon'::regnamespace) as has`)).rows[0].has) {
      await pool.query('truncate canon.near_keys, canon.near_key_variants');
      let t = performance.now();
      await pool.query('select * from canon.refresh_near_keys()');
      const firstBuild = Math.round(performance.now() - t);
      t = performance.now();
      await pool.query('select * from canon.refresh_drivers_index()');
      const unchanged = Math.round(performance.now() - t);
      const rows = (await pool.query(`select (select count(*) from canon.near_keys)::int as keys, (select count(*) from canon.near_key_variants)::int as variants,
        pg_total_relation_size('canon.near_key_variants') + pg_total_relation_size('canon.near_keys') as bytes`)).rows[0];
      process.stderr.write(`[engine] ${name}: near keys first build ${firstBuild} ms (${rows.keys} keys, ${rows.variants} variants, ${rows.bytes} bytes); refresh with nothing changed ${unchanged} ms\n`);
    }
    await pool.query('vacuum analyze');
  } finally {
    await pool.end();
  }
}

export async function copyOf(base: string, template: string, name: string): Promise<string> {
  await admin(base, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name} template ${template}`);
  });
  return dbUrl(base, name);
}

async function dropDb(base: string, name: string): Promise<void> {
  await admin(base, (c) => c.query(`drop database if exists ${name} with (force)`));
}

/** One in-process recovery with `lanes` lanes; returns its duration (the run, plan included). */
export async function timedRecovery(engine: Engine, url: string, batchSize: number, lanes: number, log: Log): Promise<{ ms: number; runId: number; matched: number; planMs?: number; plan?: unknown; stepMs?: unknown }> {
  const pool = createPool(url, lanes + 2, 'idgap-bench');
  try {
    let matched = 0;
    let planMs: number | undefined;
    const t = Date.now();
    const run = await engine.withRun(engine.poolClient(pool), { task: 'retry_identity_matching', schema: engine.recoveryParamsSchema, payload: { batch_size: batchSize }, trigger: 'cli', log },
      async (params, { client, runId, log: runLog }) => {
        const r = await engine.runRecovery(client, runId, params, runLog, lanes > 1 ? { secondConnection: engine.poolClient(pool), lanes } : {});
        matched = r.matched;
        planMs = (r as { planMs?: number }).planMs;
      });
    const ms = Date.now() - t;
    const stats = (await pool.query('select stats from ops.job_runs where id = $1', [run.runId])).rows[0]?.stats ?? {};
    return { ms, runId: run.runId, matched, planMs, plan: stats.plan, stepMs: stats.step_ms };
  } finally {
    await pool.end();
  }
}

/**
 * The floor on a recovered database: a hash join of every lead's normalised phone to the drivers index, and the
 * recovery's own result written again into copies of its tables with the same indexes (ordinary logged tables, no
 * foreign keys), in one transaction.
 */
async function floorOf(url: string): Promise<{ join_ms: number; rewrite_ms: number; floor_ms: number }> {
  return admin(url, async (c) => {
    await c.query('set jit = off');
    await c.query('set max_parallel_workers_per_gather = 0');
    await c.query(`set work_mem = '256MB'`);
    await c.query('set enable_nestloop = off');
    await c.query('set enable_mergejoin = off');
    let t = Date.now();
    await c.query(`select count(*) from (select canon.norm_phone(leads.park_phone, '51') as phone_norm from public.module_ct_cabinet_leads as leads) as keyed
                   join canon.drivers_index as idx on idx.phone_norm = keyed.phone_norm`);
    const joinMs = Date.now() - t;
    const tables = ['canon.identity_registry', 'canon.identity_links', 'canon.identity_origin', 'canon.identity_origin_history', 'ops.identity_matching_jobs'];
    /* Ordinary (logged) tables, as the recovery writes: a temporary copy would skip the WAL and flatter the floor. */
    await c.query('drop schema if exists bench_floor cascade; create schema bench_floor');
    for (const [i, table] of tables.entries()) await c.query(`create table bench_floor.copy_${i} (like ${table} including defaults including indexes)`);
    t = Date.now();
    await c.query('begin');
    for (const [i, table] of tables.entries()) {
      const cols = (await c.query(`select string_agg(quote_ident(attname), ', ' order by attnum) as cols from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped`, [table])).rows[0].cols;
      await c.query(`insert into bench_floor.copy_${i} (${cols}) select ${cols} from ${table}`);
    }
    await c.query('commit');
    const rewriteMs = Date.now() - t;
    await c.query('drop schema bench_floor cascade');
    return { join_ms: joinMs, rewrite_ms: rewriteMs, floor_ms: joinMs + rewriteMs };
  });
}

/** A split run with `processes` worker processes of this checkout (2 slots each), queued from SQL; its duration. */
async function splitRun(url: string, batchSize: number, processes: number): Promise<number> {
  const children = Array.from({ length: processes }, () =>
    spawn('node', ['bin/idgap.js', 'start', '--worker-only', '--no-cron'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: url, WORKER_CONCURRENCY: '2', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    }));
  try {
    await new Promise((r) => setTimeout(r, 3000)); // workers connected
    return await admin(url, async (c) => {
      const t = Date.now();
      await c.query(`select graphile_worker.add_job('retry_identity_matching', json_build_object('batch_size', $1::int, 'split', true))`, [batchSize]);
      for (;;) {
        const { rows } = await c.query(`select state, finished_at from ops.job_runs where task = 'retry_identity_matching' and state <> 'running' order by id desc limit 1`);
        if (rows[0]) {
          if (rows[0].state !== 'succeeded') throw new Error(`split run ${rows[0].state}`);
          return Date.now() - t;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))));
  }
}

export async function runEngineBench(opts: EngineBenchOptions): Promise<number> {
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const home = mkdtempSync(path.join(os.tmpdir(), 'idgap-engine-bench-'));
  const engines = [await loadEngine(PROJECT_ROOT, 'this')];
  if (opts.engineDir) engines.push(await loadEngine(path.resolve(opts.engineDir), path.basename(path.resolve(opts.engineDir))));
  if (opts.nearKeysOff) engines.push({ ...engines[0]!, name: 'this, near keys off', settings: { near_keys_enabled: '0' } });
  const report: Record<string, unknown>[] = [];
  let cluster: { connectionString: string; stop: () => Promise<void> } | undefined;
  try {
    const dataDir = path.join(home, 'data');
    process.stderr.write(`[engine] generating ${opts.leads} leads\n`);
    await generate({ leads: opts.leads, drivers: opts.leads, seed: opts.seed, out: dataDir });
    for (const requested of opts.databaseUrls) {
      let base = requested;
      if (requested === 'embedded') {
        cluster = await startEmbedded({ home, database: 'postgres', port: 0, log });
        base = cluster.connectionString;
      }
      const server = await admin(base, async (c) => (await c.query('select version() as v')).rows[0].v as string);
      process.stderr.write(`[engine] ${requested === 'embedded' ? 'embedded' : 'server'}: ${server}\n`);
      const templates = new Map<string, string>();
      for (const engine of engines) {
        if (engine.settings) {
          templates.set(engine.name, templates.get('this')!);
          continue;
        }
        const name = `idgap_bench_tpl_${process.pid}_${engines.indexOf(engine)}`;
        await buildTemplate(base, engine, name, dataDir, log);
        templates.set(engine.name, name);
      }
      const runs: Record<string, unknown>[] = [];
      for (let k = 1; k <= opts.repeats; k++) {
        for (const lanes of opts.lanes) {
          for (const engine of k % 2 ? engines : [...engines].reverse()) {
            const name = `idgap_bench_run_${process.pid}_${engines.indexOf(engine)}`;
            const url = await copyOf(base, templates.get(engine.name)!, name);
            for (const [key, value] of Object.entries(engine.settings ?? {})) {
              await admin(url, (c) => c.query('update ops.settings set value = $2 where key = $1', [key, value]));
            }
            const r = await timedRecovery(engine, url, opts.batchSize, lanes, log);
            const floor = engine === engines[0] && lanes === Math.min(...opts.lanes) ? await floorOf(url) : undefined;
            const row = { server: requested === 'embedded' ? 'embedded' : 'given', engine: engine.name, lanes, repeat: k, recovery_ms: r.ms, plan_ms: r.planMs, matched: r.matched, plan: r.plan, step_ms: r.stepMs, ...(floor ?? {}),
              ...(floor ? { ratio: Number((r.ms / floor.floor_ms).toFixed(2)) } : {}) };
            process.stderr.write(`[engine] ${JSON.stringify(row)}\n`);
            runs.push(row);
            await dropDb(base, name);
          }
        }
        for (const processes of opts.split) {
          const name = `idgap_bench_split_${process.pid}`;
          const url = await copyOf(base, templates.get('this')!, name);
          const ms = await splitRun(url, opts.batchSize, processes);
          const row = { server: requested === 'embedded' ? 'embedded' : 'given', engine: 'this', split_processes: processes, repeat: k, recovery_ms: ms };
          process.stderr.write(`[engine] ${JSON.stringify(row)}\n`);
          runs.push(row);
          await dropDb(base, name);
        }
      }
      for (const name of new Set(templates.values())) await dropDb(base, name);
      report.push({ server: requested === 'embedded' ? 'embedded' : requested.replace(/\/\/[^@]*@/, '//'), version: server, runs });
      if (cluster) {
        await cluster.stop();
        cluster = undefined;
      }
    }
  } finally {
    if (cluster) await cluster.stop();
    rmSync(home, { recursive: true, force: true });
  }
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(path.join(opts.out, 'engine.json'), `${JSON.stringify({ options: { ...opts, out: undefined }, at: new Date().toISOString(), report }, null, 2)}\n`);
  writeFileSync(path.join(opts.out, 'engine.md'), summarise(opts, report));
  process.stdout.write(summarise(opts, report));
  return 0;
}

function summarise(opts: EngineBenchOptions, report: Record<string, unknown>[]): string {
  const lines = [`# Engine benchmark: ${opts.leads.toLocaleString('en')} leads × ${opts.leads.toLocaleString('en')} drivers, batch ${opts.batchSize}, seed ${opts.seed}, ${opts.repeats} repeats (medians; every run in engine.json)`, ''];
  lines.push('| server | engine | run | median ms | runs ms | floor ms (join + rewrite) | ratio |', '|---|---|---|---|---|---|---|');
  for (const server of report) {
    const runs = server.runs as Record<string, number | string>[];
    const keys = [...new Set(runs.map((r) => `${r.engine}|${r.split_processes !== undefined ? `split ${r.split_processes} processes` : `${r.lanes} lane(s)`}`))];
    for (const key of keys) {
      const [engine, label] = key.split('|');
      const rows = runs.filter((r) => r.engine === engine && (r.split_processes !== undefined ? `split ${r.split_processes} processes` : `${r.lanes} lane(s)`) === label);
      const ms = rows.map((r) => Number(r.recovery_ms));
      const floors = rows.filter((r) => r.floor_ms !== undefined);
      const floor = floors.length ? median(floors.map((r) => Number(r.floor_ms))) : undefined;
      const ratio = floors.length ? median(floors.map((r) => Number(r.ratio))) : undefined;
      lines.push(`| ${server.server} (${String(server.version).split(' on ')[0]}) | ${engine} | ${label} | ${median(ms)} | ${ms.join(', ')} | ${floor ?? ''}${floors.length ? ` (${median(floors.map((r) => Number(r.join_ms)))} + ${median(floors.map((r) => Number(r.rewrite_ms)))})` : ''} | ${ratio ?? ''} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
