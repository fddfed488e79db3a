import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, ensureDatabase, startEmbedded, type Database } from '../../src/db.js';
import { migrateDatabase } from '../../src/migrate.js';
import { recoveryParamsSchema, runRecovery } from '../../src/recovery.js';
import { poolClient, withRun } from '../../src/runs.js';
import { recoveredState, resetRecoveryWrites, seedBulk } from '../support/bulk.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';
import { lastRun, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';
import { silentLog } from '../support/log.js';
import { spawnWorker, until, type WorkerProcess } from '../support/worker-process.js';

/* The issue asks for 200,000 leads; the shared 2-core machine gets 40,000 by default (IDGAP_CRASH_LEADS to change). */
const LEADS = Number(process.env.IDGAP_CRASH_LEADS ?? 40_000);
const BATCH = 2000;

const db = await useTestDatabase();
const workers: WorkerProcess[] = [];

beforeAll(async () => ensureCliBuilt(), 180_000);
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
});

const figures: Record<string, unknown> = { leads: LEADS };
afterAll(() => console.log(`crash-safety figures: ${JSON.stringify(figures)}`));

describe('a worker process killed mid-run', () => {
  it('is failed and its job unlocked at the next start, and the retried job ends in the state of an uninterrupted run', async () => {
    await seedBulk(db.pool, LEADS);

    // Reference: one uninterrupted run on the same data, in-process, then the writes are reset.
    let t = Date.now();
    await runJob(db.url, db.pool, 'retry_identity_matching', { batch_size: BATCH });
    figures.reference_run_ms = Date.now() - t;
    expect((await lastRun(db.pool, 'retry_identity_matching')).state).toBe('succeeded');
    const reference = await recoveredState(db.pool);
    expect(reference.lead_links.length).toBe(Math.floor(LEADS / 3) + Math.floor((LEADS + 2) / 3));
    await resetRecoveryWrites(db.pool);

    const { rows: added } = await db.pool.query<{ id: string }>(
      `select (graphile_worker.add_job('retry_identity_matching', json_build_object('batch_size', ${BATCH}::int))).id`);
    const jobId = added[0]!.id;

    const first = spawnWorker(db.url);
    workers.push(first);
    await first.waitFor((l) => l.event === 'recovery.batch' && Number(l.batch) >= 2);
    first.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await first.exited).signal).toBe('SIGKILL');
    const batchesLogged = first.lines.filter((l) => l.event === 'recovery.batch').length;
    figures.batches_committed_before_kill = batchesLogged;

    // The killed run: still "running" in the ledger, its job locked by the dead worker.
    const killedRun = await lastRun(db.pool, 'retry_identity_matching');
    expect(killedRun.state).toBe('running');
    const locked = await db.pool.query(`select locked_by, attempts from graphile_worker.jobs where id = $1`, [jobId]);
    expect(locked.rows[0].locked_by).not.toBeNull();
    // Its backend notices the vanished client within client_connection_check_interval and frees the run's lock.
    await until(async () => {
      const { rows } = await db.pool.query(`
        select not exists (select 1 from pg_locks as locks
          where locks.locktype = 'advisory' and locks.granted and locks.objsubid = 1
            and locks.classid::bigint = (ops.run_lock_key($1) >> 32) & 4294967295
            and locks.objid::bigint = ops.run_lock_key($1) & 4294967295) as free`, [killedRun.id]);
      return rows[0].free as boolean;
    }, 30_000);
    figures.lock_freed_after_kill_ms = Date.now() - killedAt;
    const committed = await db.pool.query(`select count(*)::int as n from ops.identity_matching_jobs`);
    figures.job_rows_committed_before_kill = committed.rows[0].n;
    expect(committed.rows[0].n).toBeGreaterThan(0);
    expect(committed.rows[0].n).toBeLessThan(LEADS);
    expect(committed.rows[0].n % BATCH).toBe(0); // whole batches only

    // The next start marks the run failed and unlocks its job: the retry starts now, not in 4 hours.
    t = Date.now();
    const second = spawnWorker(db.url);
    workers.push(second);
    const abandoned = await second.waitFor((l) => l.event === 'runs.abandoned');
    expect(abandoned.runs).toBe(1);
    const retried = await second.waitFor((l) => l.event === 'run.started' && l.task === 'retry_identity_matching');
    figures.retry_started_after_restart_ms = Date.now() - t;
    await second.waitFor((l) => l.event === 'run.succeeded' && l.run_id === retried.run_id, 180_000);
    figures.retry_run_ms = Date.now() - t;
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const runs = await db.pool.query(`select id, state, error, worker_job_id::text from ops.job_runs where task = 'retry_identity_matching' order by id`);
    expect(runs.rows.map((r) => r.state)).toEqual(['failed', 'succeeded']);
    expect(runs.rows[0].error).toMatch(/^abandoned: /);
    expect(runs.rows.map((r) => r.worker_job_id)).toEqual([jobId, jobId]);
    const job = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where id = $1`, [jobId]);
    expect(job.rows[0].n).toBe(0); // completed (Graphile deletes finished jobs)

    const after = await recoveredState(db.pool);
    expect(after.lead_links.length).toBe(reference.lead_links.length);
    expect(after).toEqual(reference);
    figures.leads_checked_identical = (after.jobs as unknown[]).length;
    await expectInvariants(db.pool);
  }, 600_000);
});

describe('the database server restarted mid-run', () => {
  let home = '';
  let cluster: Database | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('fails the run cleanly, records it failed once the server is back, and the next run finishes the work', async () => {
    const log = silentLog();
    const leads = 6000;
    home = mkdtempSync(path.join(os.tmpdir(), 'idgap-restart-'));
    cluster = await startEmbedded({ home, database: 'idgap', port: 0 });
    const port = Number(new URL(cluster.connectionString).port);
    await migrateDatabase(cluster.connectionString);
    const pool = createPool(cluster.connectionString, 4, 'idgap-restart-test');
    try {
      await seedBulk(pool, leads);
      let restartMs = 0;
      const params = recoveryParamsSchema.parse({ batch_size: 500 });
      const outcome = await withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: params, trigger: 'cli', log }, async (p, { client, runId }) => {
        await runRecovery(client, runId, p, log, {
          onBatch: async ({ batch }) => {
            if (batch !== 3) return;
            // The server goes away between two batches (fast shutdown) and comes back on the same port.
            const t = Date.now();
            await cluster!.stop();
            cluster = await startEmbedded({ home, database: 'idgap', port });
            restartMs = Date.now() - t;
          },
        });
      }).then(
        () => 'succeeded',
        (e: Error) => e.message,
      );
      figures.server_restart_ms = restartMs;
      expect(new URL(cluster.connectionString).port).toBe(String(port));
      expect(outcome).toMatch(/terminat|connection|ECONNRESET|shutdown/i);

      // Three batches committed; the run could not be closed on its dead connection, so it was recorded failed,
      // with the cause, on a new one once the server answered (nothing left for the sweep).
      const linked = await pool.query(`select count(*)::int as n from ops.identity_matching_jobs`);
      expect(linked.rows[0].n).toBe(1500);
      const failed = await pool.query(`select state, error from ops.job_runs order by id`);
      expect(failed.rows).toEqual([{ state: 'failed', error: expect.stringContaining(outcome) }]);
      expect(failed.rows[0].error).toMatch(/terminating connection due to administrator command|Connection terminated/);
      figures.restart_run_error = failed.rows[0].error;
      expect(await pool.query(`select ops.fail_abandoned_runs() as n`).then((r) => r.rows[0].n)).toBe(0);

      // The next run finishes the work.
      const next = await withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: params, trigger: 'cli', log }, async (p, { client, runId }) => {
        await runRecovery(client, runId, p, log);
      });
      expect(next.state).toBe('succeeded');
      const links = await pool.query(`select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads'`);
      expect(links.rows[0].n).toBe(leads / 3 * 2);
      const jobs = await pool.query(`select count(*)::int as n from ops.identity_matching_jobs`);
      expect(jobs.rows[0].n).toBe(leads);
      await expectInvariants(pool);
    } finally {
      await pool.end();
    }
  }, 300_000);

  it('leaves the run to the sweep when the server stays down longer than the run retries to record it', async () => {
    const log = silentLog();
    const url = new URL(cluster!.connectionString);
    url.pathname = '/idgap_down';
    await ensureDatabase(url.toString());
    await migrateDatabase(url.toString());
    const port = Number(url.port);
    const pool = createPool(url.toString(), 4, 'idgap-restart-test');
    try {
      await seedBulk(pool, 3000);
      const params = recoveryParamsSchema.parse({ batch_size: 500 });
      let downAt = 0;
      const outcome = await withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: params, trigger: 'cli', log }, async (p, { client, runId }) => {
        await runRecovery(client, runId, p, log, {
          onBatch: async ({ batch }) => {
            if (batch !== 2) return;
            await cluster!.stop(); // and it stays down while the run gives up
            downAt = Date.now();
          },
        });
      }).then(
        () => 'succeeded',
        (e: Error) => e.message,
      );
      figures.run_gave_up_after_server_down_ms = Date.now() - downAt;
      expect(outcome).toMatch(/terminat|connection|ECONNREFUSED/i);
      cluster = await startEmbedded({ home, database: 'idgap', port });
      const swept = await pool.query(`select ops.fail_abandoned_runs() as n`);
      expect(swept.rows[0].n).toBe(1);
      const runs = await pool.query(`select state, error from ops.job_runs order by id`);
      expect(runs.rows).toEqual([{ state: 'failed', error: expect.stringMatching(/^abandoned: /) }]);
      expect((await pool.query(`select count(*)::int as n from ops.identity_matching_jobs`)).rows[0].n).toBe(1000);
      const next = await withRun(poolClient(pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: params, trigger: 'cli', log }, async (p, { client, runId }) => {
        await runRecovery(client, runId, p, log);
      });
      expect(next.state).toBe('succeeded');
      expect((await pool.query(`select count(*)::int as n from ops.identity_matching_jobs`)).rows[0].n).toBe(3000);
      await expectInvariants(pool);
    } finally {
      await pool.end();
    }
  }, 300_000);
});
