import type pg from 'pg';
import { z } from 'zod';
import type { Log } from './log.js';
import type { WithClient } from './runs.js';

/* The payload schema lives with the other payload schemas (src/payloads.ts); re-exported for the engine's callers. */
export { DEFAULT_BATCH_SIZE, recoveryParamsSchema, type RecoveryParams } from './payloads.js';
import { DEFAULT_BATCH_SIZE, type RecoveryParams } from './payloads.js';

export interface BatchCounts {
  processed: number;
  matched: number;
  failed: number;
  pending: number;
  skipped: number;
}

export interface RecoveryResult extends BatchCounts {
  candidates: number;
  batches: number;
  errors: number;
  durationMs: number;
  planMs: number;
  indexRefresh?: RefreshResult;
}

export interface RefreshResult {
  inserted: number;
  updated: number;
  deleted: number;
  total: number;
  content_changed: boolean;
}

export async function refreshDriversIndex(client: pg.ClientBase): Promise<RefreshResult> {
  const { rows } = await client.query('select * from canon.refresh_drivers_index()');
  const r = rows[0];
  return {
    inserted: Number(r.inserted),
    updated: Number(r.updated),
    deleted: Number(r.deleted),
    total: Number(r.total),
    content_changed: Boolean(r.content_changed),
  };
}

export interface RecoveryHooks {
  /** Called after each batch commits (progress bars, tests that interrupt a run). */
  onBatch?: (info: { batch: number; batches: number; done: number; candidates: number; counts: BatchCounts; ms: number }) => void | Promise<void>;
  /** Checked between batches: true stops the run after the batch in flight (graceful shutdown). */
  shouldStop?: () => boolean;
  /**
   * Lends a second connection for the run: two batches are then in flight, one
   * matching while the other writes (ops.process_identity_batch serialises the
   * writes and re-checks what changed). Without it, batches run one after
   * another on the run's connection.
   */
  secondConnection?: WithClient;
}

const zero = (): BatchCounts => ({ processed: 0, matched: 0, failed: 0, pending: 0, skipped: 0 });

/**
 * One recovery run on `client` (the connection holding the run's lock): plan the
 * queue in SQL, then process it batch by batch, each batch one transaction.
 * A batch whose statement fails is split in halves until the failing lead is
 * alone; that lead is recorded with reason ERROR and every other lead proceeds.
 */
export async function runRecovery(
  client: pg.ClientBase,
  runId: number,
  params: RecoveryParams,
  log: Log,
  hooks: RecoveryHooks = {},
): Promise<RecoveryResult> {
  const started = Date.now();
  const batchSize = params.batch_size ?? DEFAULT_BATCH_SIZE;
  let indexRefresh: RefreshResult | undefined;
  if (params.refresh_index) {
    const t = Date.now();
    indexRefresh = await refreshDriversIndex(client);
    log.info({ event: 'index.refreshed', ...indexRefresh, duration_ms: Date.now() - t }, 'drivers index refreshed before recovery');
  }
  await client.query('select ops.fail_abandoned_runs()');
  const planStarted = Date.now();
  const planned = await client.query<{ n: number }>('select ops.plan_recovery($1, $2, $3, $4, $5, $6) as n', [
    runId,
    params.limit ?? null,
    params.risk_level ?? null,
    params.gap_reason ?? null,
    params.date_from ?? null,
    params.date_to ?? null,
  ]);
  const candidates = planned.rows[0]!.n;
  const planMs = Date.now() - planStarted;
  const batches = Math.ceil(candidates / batchSize);
  log.info({ event: 'recovery.started', candidates, batch_size: batchSize, batches, plan_ms: planMs }, `Recovery started: ${candidates} candidate leads in ${batches} batches of ${batchSize}`);

  if (params.split) return splitRecovery(client, runId, candidates, batchSize, log, hooks, { started, planMs, indexRefresh });

  const totals = zero();
  let errors = 0;
  let batch = 0;
  let next = 1;
  let stopped = false;
  let failed = false;
  /* One lane: takes the next range of the queue until none is left; two lanes share the counter. */
  const lane = async (laneClient: pg.ClientBase): Promise<void> => {
    try {
      await laneLoop(laneClient);
    } catch (e) {
      failed = true; // the other lane stops after its batch in flight
      throw e;
    }
  };
  const laneLoop = async (laneClient: pg.ClientBase): Promise<void> => {
    while (next <= candidates && !failed) {
      if (hooks.shouldStop?.()) {
        if (!stopped) log.warn({ event: 'recovery.stopped', done: totals.processed, candidates }, 'Recovery stopped between batches (shutdown)');
        stopped = true;
        return;
      }
      const from = next;
      next += batchSize;
      const to = Math.min(from + batchSize - 1, candidates);
      const t = Date.now();
      const counts = zero();
      errors += await processRange(laneClient, runId, from, to, counts, log);
      batch += 1;
      for (const k of Object.keys(counts) as (keyof BatchCounts)[]) totals[k] += counts[k];
      const ms = Date.now() - t;
      const pendingLeft = candidates - totals.processed;
      const number = (from - 1) / batchSize + 1;
      log.info(
        { event: 'recovery.batch', batch: number, batches, ...counts, ms },
        `Batch ${number}/${batches} done: matched=${counts.matched}, failed=${counts.failed}, pending=${counts.pending}, skipped=${counts.skipped} (${pendingLeft} left, ${ms} ms)`,
      );
      await hooks.onBatch?.({ batch, batches, done: totals.processed, candidates, counts, ms });
    }
  };
  let secondStarted = false;
  if (hooks.secondConnection && batches > 1) {
    const lanes = await Promise.allSettled([
      lane(client),
      hooks.secondConnection(async (second) => {
        secondStarted = true;
        await second.query(`set client_connection_check_interval = '1s'`).catch(() => undefined);
        await lane(second);
      }).catch((e: unknown) => {
        if (secondStarted) throw e;
        // No second connection to be had: the run's own lane does every batch.
        log.warn({ event: 'recovery.second_lane_unavailable', error: (e as Error).message }, 'No second connection: batches run one at a time');
      }),
    ]);
    const rejected = lanes.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  } else {
    await lane(client);
  }
  const durationMs = Date.now() - started;
  log.info(
    { event: 'recovery.finished', candidates, batches: batch, ...totals, errors, duration_ms: durationMs },
    `Recovery finished: processed=${totals.processed}, matched=${totals.matched}, failed=${totals.failed}, pending=${totals.pending}, skipped=${totals.skipped} in ${(durationMs / 1000).toFixed(1)} s`,
  );
  return { ...totals, candidates, batches: batch, errors, durationMs, planMs, indexRefresh };
}

export const BATCH_TASK = 'recover_identity_batch';

/** The payload of recover_identity_batch: one range of a split run's queue. */
export const batchParamsSchema = z
  .object({
    run_id: z.number().int().min(1),
    from_seq: z.number().int().min(1),
    to_seq: z.number().int().min(1),
    batch: z.number().int().min(1).optional(),
    batches: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((p) => p.from_seq <= p.to_seq, { message: 'from_seq must not be after to_seq', path: ['from_seq'] });

/**
 * A split run: the queue is cut into batch ranges and each range becomes a
 * recover_identity_batch job, which any worker process may take. This run
 * stays open (holding its lock, so its queue is not taken for abandoned) and
 * works too, from the last range backwards, until the queue is empty: so a
 * single worker slot cannot deadlock waiting for batch jobs, and a range whose
 * job ran out of attempts is still done. A range processed twice costs
 * nothing: its queue rows are gone, and batches are serialised in SQL. The
 * batch jobs not started by then are removed.
 */
async function splitRecovery(
  client: pg.ClientBase,
  runId: number,
  candidates: number,
  batchSize: number,
  log: Log,
  hooks: RecoveryHooks,
  t: { started: number; planMs: number; indexRefresh?: RefreshResult },
): Promise<RecoveryResult> {
  const batches = Math.ceil(candidates / batchSize);
  const jobKeys = `select format('%s:%s:%s', $1::text, $2::bigint, f) as job_key from generate_series(1, $4::int, $3::int) as f`;
  await client.query(
    `select graphile_worker.add_job($1::text, json_build_object('run_id', $2::bigint, 'from_seq', f, 'to_seq', least(f + $3::int - 1, $4::int), 'batch', (f - 1) / $3::int + 1, 'batches', $5::int),
                                     job_key => format('%s:%s:%s', $1::text, $2::bigint, f), max_attempts => 5)
       from generate_series(1, $4::int, $3::int) as f`,
    [BATCH_TASK, runId, batchSize, candidates, batches],
  );
  log.info({ event: 'recovery.split', batches, batch_size: batchSize }, `Recovery split into ${batches} batch jobs`);
  let errors = 0;
  try {
    for (;;) {
      const { rows: last } = await client.query<{ seq: number | null }>('select max(queue.seq) as seq from ops.recovery_queue as queue where queue.run_id = $1::bigint', [runId]);
      const seq = last[0]!.seq;
      if (seq === null) break;
      if (hooks.shouldStop?.()) throw new Error('stopped by shutdown while queued leads were left to batch jobs');
      const from = Math.floor((seq - 1) / batchSize) * batchSize + 1;
      const to = Math.min(from + batchSize - 1, candidates);
      const started = Date.now();
      const counts = zero();
      errors += await processRange(client, runId, from, to, counts, log);
      const ms = Date.now() - started;
      const batch = (from - 1) / batchSize + 1;
      log.info({ event: 'recovery.batch', batch, batches, by: 'planner', ...counts, ms },
        `Batch ${batch}/${batches} done by the planning job: matched=${counts.matched}, failed=${counts.failed}, pending=${counts.pending}, skipped=${counts.skipped} (${ms} ms)`);
    }
  } finally {
    await client.query(`select graphile_worker.remove_job(keys.job_key) from (${jobKeys}) as keys`, [BATCH_TASK, runId, batchSize, candidates]).catch(() => undefined);
  }
  // A batch job still running (it took a range the planner also did: it ends with nothing to do) finishes before the
  // run does, so the run's counts are final and no job of it is cut off by a shutdown that follows the run. Bounded.
  // (remove_job clears the key of a locked job, so it is found by its payload, which the public jobs view lacks.)
  for (let waited = 0; waited < 60_000; waited += 100) {
    const { rows: running } = await client.query<{ n: number }>(
      `select count(*)::int as n
         from graphile_worker._private_jobs as jobs
         join graphile_worker._private_tasks as tasks on tasks.id = jobs.task_id
        where tasks.identifier = $1 and jobs.locked_at is not null and (jobs.payload ->> 'run_id')::bigint = $2::bigint`,
      [BATCH_TASK, runId],
    );
    if (running[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { rows } = await client.query<BatchCounts & { errors: number }>(
    `select runs.processed, runs.matched, runs.failed, runs.pending, runs.skipped,
            (select coalesce(sum((batch_runs.stats ->> 'errors')::integer), 0)::int from ops.job_runs as batch_runs
              where batch_runs.task = $2 and batch_runs.state = 'succeeded' and (batch_runs.stats ->> 'parent_run_id')::bigint = runs.id) as errors
       from ops.job_runs as runs where runs.id = $1`,
    [runId, BATCH_TASK],
  );
  const { errors: batchErrors, ...totals } = rows[0]!;
  errors += batchErrors;
  const durationMs = Date.now() - t.started;
  log.info(
    { event: 'recovery.finished', candidates, batches, ...totals, errors, duration_ms: durationMs },
    `Recovery finished: processed=${totals.processed}, matched=${totals.matched}, failed=${totals.failed}, pending=${totals.pending}, skipped=${totals.skipped} in ${(durationMs / 1000).toFixed(1)} s`,
  );
  return { ...totals, candidates, batches, errors, durationMs, planMs: t.planMs, indexRefresh: t.indexRefresh };
}

/** Processes queue positions [from, to] in one transaction; on failure, halves until the failing lead is alone. */
export async function processRange(client: pg.ClientBase, runId: number, from: number, to: number, into: BatchCounts, log: Log): Promise<number> {
  try {
    await client.query('begin');
    await client.query("set local work_mem = '256MB'");
    const { rows } = await client.query<BatchCounts>('select * from ops.process_identity_batch($1, $2, $3)', [runId, from, to]);
    await client.query('commit');
    const r = rows[0]!;
    into.processed += r.processed;
    into.matched += r.matched;
    into.failed += r.failed;
    into.pending += r.pending;
    into.skipped += r.skipped;
    return 0;
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    const message = (e as Error).message;
    if (isConnectionError(e)) throw e;
    if (from === to) {
      const { rows } = await client.query<{ status: string }>('select status from ops.record_lead_error($1, $2, $3)', [runId, from, message]);
      log.warn({ event: 'recovery.lead_error', seq: from, error: message }, `A lead failed with a database error and was recorded as ERROR: ${message}`);
      into.processed += 1;
      if (rows[0]?.status === 'failed') into.failed += 1;
      else into.pending += 1;
      return 1;
    }
    const mid = Math.floor((from + to) / 2);
    log.debug({ event: 'recovery.batch_split', from, to, error: message }, 'batch failed; splitting it');
    return (await processRange(client, runId, from, mid, into, log)) + (await processRange(client, runId, mid + 1, to, into, log));
  }
}

/** Errors that no split can cure: the connection or the server is gone. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || /Connection terminated|ECONNRESET|ECONNREFUSED|not queryable/i.test((e as Error).message ?? '');
}
