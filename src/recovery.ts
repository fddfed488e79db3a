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
   * Lends more connections for the run: batches of one run share no lead, driver or person
   * (ops.plan_recovery packs whole components), so each lane takes the next batch on its own connection.
   * Without it, batches run one after another on the run's connection.
   */
  secondConnection?: WithClient;
  /** How many lanes (connections working batches at once) with secondConnection: default 2. */
  lanes?: number;
}

const zero = (): BatchCounts => ({ processed: 0, matched: 0, failed: 0, pending: 0, skipped: 0 });

/** A batch of the plan: a contiguous range of the run's queue. */
export interface BatchRange {
  batch: number;
  from: number;
  to: number;
  leads: number;
}

/** The batches ops.plan_recovery packed for a run, in order. */
export async function plannedBatches(client: pg.ClientBase, runId: number): Promise<BatchRange[]> {
  const { rows } = await client.query<BatchRange>(
    `select queue.batch_no as batch, min(queue.seq)::int as "from", max(queue.seq)::int as "to", count(*)::int as leads
       from ops.recovery_queue as queue where queue.run_id = $1 group by queue.batch_no order by queue.batch_no`,
    [runId],
  );
  return rows;
}

/**
 * The recovery lock (ops.recovery_lock_key()): held by the run's session from its plan to its end, so two runs
 * (the worker's task, `idgap recover`, a split run) never overlap. A run that finds it held waits for it, and says so.
 */
export async function takeRecoveryLock(client: pg.ClientBase, log: Log): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(ops.recovery_lock_key()) as ok');
  if (rows[0]!.ok) return;
  const holder = await client.query<{ run_id: string | null }>(
    `select (select runs.id from ops.job_runs as runs where runs.task = 'retry_identity_matching' and runs.state = 'running' order by runs.id limit 1) as run_id`,
  );
  log.warn({ event: 'recovery.waiting', holder_run_id: holder.rows[0]?.run_id ?? null },
    `Another recovery run (${holder.rows[0]?.run_id ?? 'unknown'}) is in progress: waiting for it to end`);
  const t = Date.now();
  await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
  log.info({ event: 'recovery.lock_taken', waited_ms: Date.now() - t }, 'the other recovery run ended; starting');
}

/**
 * One recovery run on `client` (the connection holding the run's lock): take the recovery lock, plan the
 * queue in SQL (whole components packed into batches), then process it batch by batch, each batch one
 * transaction, on one lane or several. Errors by class (see processRange).
 */
export async function runRecovery(
  client: pg.ClientBase,
  runId: number,
  params: RecoveryParams,
  log: Log,
  hooks: RecoveryHooks = {},
): Promise<RecoveryResult> {
  await takeRecoveryLock(client, log);
  try {
    return await runLocked(client, runId, params, log, hooks);
  } finally {
    await client.query('select pg_advisory_unlock(ops.recovery_lock_key())').catch(() => undefined);
  }
}

async function runLocked(client: pg.ClientBase, runId: number, params: RecoveryParams, log: Log, hooks: RecoveryHooks): Promise<RecoveryResult> {
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
  const candidates = await planRun(client, runId, [
    runId,
    params.limit ?? null,
    params.risk_level ?? null,
    params.gap_reason ?? null,
    params.date_from ?? null,
    params.date_to ?? null,
    batchSize,
  ], hooks, log);
  const ranges = await plannedBatches(client, runId);
  const planMs = Date.now() - planStarted;
  const batches = ranges.length;
  log.info({ event: 'recovery.started', candidates, batch_size: batchSize, batches, plan_ms: planMs }, `Recovery started: ${candidates} candidate leads in ${batches} batches of about ${batchSize}`);

  const plan: PlannedRun = { runId, candidates, ranges, log, hooks, started, planMs, indexRefresh };
  return params.split ? splitRecovery(client, plan) : processPlan(client, plan);
}

/**
 * The plan of a full run, in the three phases of ops.plan_recovery (the same result): the due leads, then their
 * near-key pairs in parts — with a second lane, part 1 of 2 on the lent connection while part 0 runs on the run's
 * (at 1M leads the step took 12 s of a serial plan while the other core idled) — then the components and batches.
 * The phases run on the run's session, whose temporary tables carry the plan from one to the next.
 */
async function planRun(client: pg.ClientBase, runId: number, args: unknown[], hooks: RecoveryHooks, log: Log): Promise<number> {
  await client.query('select ops.plan_recovery_leads($1, $2, $3, $4, $5, $6, $7)', args);
  try {
    return await planNearAndComponents(client, runId, args[6], hooks, log);
  } catch (e) {
    /* Phase 1's tables (a row per due lead) would stay in this pooled session until its next plan, and the near keys'
       work list (names) in ops.recovery_near_leads until the next run's. */
    await client.query('drop table if exists pg_temp.plan_due, pg_temp.plan_edges').catch(() => undefined);
    await client.query('delete from ops.recovery_near_leads where run_id = $1', [runId]).catch(() => undefined);
    throw e;
  }
}

async function planNearAndComponents(client: pg.ClientBase, runId: number, batchSize: unknown, hooks: RecoveryHooks, log: Log): Promise<number> {
  const { rows } = await client.query<{ near: boolean }>('select exists (select 1 from ops.recovery_near_leads where run_id = $1) as near', [runId]);
  const lanes = hooks.secondConnection ? Math.max(1, hooks.lanes ?? 2) : 1;
  /* Without a work list (near keys off, or every due lead has an exact candidate) there are no pairs to find. */
  const near = rows[0]!.near;
  if (near && lanes > 1) {
    let lent = false;
    const part = hooks.secondConnection!(async (second) => {
      lent = true;
      await second.query('select ops.plan_near_pairs($1, 1, 2)', [runId]);
    });
    const own = client.query('select ops.plan_near_pairs($1, 0, 2)', [runId]);
    const [ownDone, partDone] = await Promise.allSettled([own, part]);
    if (ownDone.status === 'rejected') throw ownDone.reason;
    if (partDone.status === 'rejected') {
      // No connection to lend (or it was lost before it started): the run's connection takes the part too.
      if (lent && !isConnectionError(partDone.reason)) throw partDone.reason;
      log.warn({ event: 'recovery.second_lane_unavailable', error: (partDone.reason as Error).message }, 'No second connection for the plan: its near-key part runs on the run\'s own');
      await client.query('select ops.plan_near_pairs($1, 1, 2)', [runId]);
    }
  } else if (near) {
    await client.query('select ops.plan_near_pairs($1, 0, 1)', [runId]);
  }
  const planned = await client.query<{ n: number }>('select ops.plan_recovery_components($1, $2) as n', [runId, batchSize]);
  return planned.rows[0]!.n;
}

/** A planned run, as its processing needs it: the queue's batches, and the times and refresh already spent. */
interface PlannedRun {
  runId: number;
  candidates: number;
  ranges: BatchRange[];
  log: Log;
  hooks: RecoveryHooks;
  started: number;
  planMs: number;
  indexRefresh?: RefreshResult;
}

/** What an incremental run (task recover_arrivals) took and planned: ops.plan_arrivals's counts. */
export interface ArrivalPlan {
  leads_taken: number;
  drivers_taken: number;
  index_inserted: number;
  index_updated: number;
  index_deleted: number;
  reopened: number;
  planned: number;
}

/**
 * An incremental run: under the recovery lock, ops.plan_arrivals takes the work lists, refreshes the changed
 * drivers' index rows (re-opening only the leads they meet) and plans the taken and re-opened leads; then the
 * same engine as a full run processes them.
 */
export async function runArrivals(
  client: pg.ClientBase,
  runId: number,
  log: Log,
  hooks: RecoveryHooks = {},
  batchSize = DEFAULT_BATCH_SIZE,
): Promise<RecoveryResult & { arrivals: ArrivalPlan }> {
  await takeRecoveryLock(client, log);
  try {
    const started = Date.now();
    await client.query('select ops.fail_abandoned_runs()');
    const { rows } = await client.query<Record<keyof ArrivalPlan, string | number>>('select * from ops.plan_arrivals($1, $2)', [runId, batchSize]);
    const arrivals = Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)])) as unknown as ArrivalPlan;
    const ranges = await plannedBatches(client, runId);
    const planMs = Date.now() - started;
    log.info({ event: 'arrivals.planned', ...arrivals, batches: ranges.length, plan_ms: planMs },
      `Arrivals: ${arrivals.leads_taken} lead changes and ${arrivals.drivers_taken} driver changes taken, ${arrivals.reopened} leads re-opened, ${arrivals.planned} leads planned in ${ranges.length} batches`);
    const result = await processPlan(client, { runId, candidates: arrivals.planned, ranges, log, hooks, started, planMs });
    return { ...result, arrivals };
  } finally {
    await client.query('select pg_advisory_unlock(ops.recovery_lock_key())').catch(() => undefined);
  }
}

/** Processes a planned run's batches on one lane or several (hooks.secondConnection). */
async function processPlan(client: pg.ClientBase, plan: PlannedRun): Promise<RecoveryResult> {
  const { runId, candidates, ranges, log, hooks, started, planMs, indexRefresh } = plan;
  const batches = ranges.length;
  const totals = zero();
  let errors = 0;
  let batch = 0;
  let nextRange = 0;
  let stopped = false;
  let failed = false;
  const doRange = async (laneClient: pg.ClientBase, range: BatchRange): Promise<void> => {
    const t = Date.now();
    const counts = zero();
    errors += await processRange(laneClient, runId, range.from, range.to, counts, log);
    batch += 1;
    for (const k of Object.keys(counts) as (keyof BatchCounts)[]) totals[k] += counts[k];
    const ms = Date.now() - t;
    const pendingLeft = candidates - totals.processed;
    log.info(
      { event: 'recovery.batch', batch: range.batch, batches, ...counts, ms },
      `Batch ${range.batch}/${batches} done: matched=${counts.matched}, failed=${counts.failed}, pending=${counts.pending}, skipped=${counts.skipped} (${pendingLeft} left, ${ms} ms)`,
    );
    await hooks.onBatch?.({ batch, batches, done: totals.processed, candidates, counts, ms });
  };
  /* One lane: takes the next batch until none is left; the lanes share the list. A lane on a lent connection that
     loses it gives its batch back (rolled back with the connection) and takes a new connection, up to 3 times. */
  const laneLoop = async (laneClient: pg.ClientBase, lost: { range?: BatchRange }): Promise<void> => {
    while (!failed) {
      if (hooks.shouldStop?.()) {
        if (!stopped) log.warn({ event: 'recovery.stopped', done: totals.processed, candidates }, 'Recovery stopped between batches (shutdown)');
        stopped = true;
        return;
      }
      const range = lost.range ?? ranges[nextRange++];
      lost.range = undefined;
      if (!range) return;
      try {
        await doRange(laneClient, range);
      } catch (e) {
        if (isConnectionError(e)) lost.range = range;
        throw e;
      }
    }
  };
  const lane = async (laneClient: pg.ClientBase, lost: { range?: BatchRange }, lent = false): Promise<void> => {
    try {
      await laneLoop(laneClient, lost);
    } catch (e) {
      // The other lanes stop after their batch in flight (a lent lane that lost its connection tries another first;
      // the run's own connection holds its locks, so losing it ends the run).
      if (!(lent && lost.range)) failed = true;
      throw e;
    }
  };
  const laneCount = hooks.secondConnection ? Math.max(1, hooks.lanes ?? 2) : 1;
  const lentLane = async (): Promise<void> => {
    const lost: { range?: BatchRange } = {};
    for (let attempt = 0; ; attempt++) {
      let started = false;
      try {
        await hooks.secondConnection!(async (lent) => {
          started = true;
          /* A lent client whose server connection dies emits 'error'; unhandled, that kills the process. Its next
             query fails anyway, and the lane retries its batch on a new connection. */
          const onError = () => undefined;
          lent.on('error', onError);
          try {
            await lent.query(`set client_connection_check_interval = '1s'`).catch(() => undefined);
            await lane(lent, lost, true);
          } finally {
            lent.off('error', onError);
          }
        });
        return;
      } catch (e) {
        if (!started && attempt === 0) {
          // No connection to be had: the other lanes do every batch.
          log.warn({ event: 'recovery.second_lane_unavailable', error: (e as Error).message }, 'No connection for another lane: fewer batches at once');
          return;
        }
        if (!isConnectionError(e) || attempt >= 3) {
          failed = true;
          throw e;
        }
        log.warn({ event: 'recovery.lane_reconnect', attempt: attempt + 1, error: (e as Error).message }, 'A lane lost its connection; its batch is retried on a new one');
        await sleep(200 * 2 ** attempt);
      }
    }
  };
  if (laneCount > 1 && batches > 1) {
    const lanes = await Promise.allSettled([lane(client, {}), ...Array.from({ length: laneCount - 1 }, () => lentLane())]);
    const rejected = lanes.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  } else {
    await lane(client, {});
  }
  const durationMs = Date.now() - started;
  log.info(
    { event: 'recovery.finished', candidates, batches: batch, ...totals, errors, duration_ms: durationMs },
    `Recovery finished: processed=${totals.processed}, matched=${totals.matched}, failed=${totals.failed}, pending=${totals.pending}, skipped=${totals.skipped} in ${(durationMs / 1000).toFixed(1)} s`,
  );
  return { ...totals, candidates, batches: batch, errors, durationMs, planMs, indexRefresh };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
 * A split run: each planned batch becomes a recover_identity_batch job, which any worker process may take
 * (batches share no lead, driver or person, so they run at once). This run stays open (holding its locks, so
 * its queue is not taken for abandoned and no other run starts) and works too, from the last batch backwards,
 * until the queue is empty: so a single worker slot cannot deadlock waiting for batch jobs, and a batch whose
 * job ran out of attempts is still done. A batch processed twice costs nothing: its queue rows are gone. The
 * batch jobs not started by then are removed.
 */
async function splitRecovery(client: pg.ClientBase, t: PlannedRun): Promise<RecoveryResult> {
  const { runId, candidates, ranges, log, hooks } = t;
  const batches = ranges.length;
  const jobKeys = ranges.map((r) => `${BATCH_TASK}:${runId}:${r.from}`);
  await client.query(
    `select graphile_worker.add_job($1::text, json_build_object('run_id', $2::bigint, 'from_seq', r.from_seq, 'to_seq', r.to_seq, 'batch', r.batch, 'batches', $3::int),
                                     job_key => format('%s:%s:%s', $1::text, $2::bigint, r.from_seq), max_attempts => 5)
       from jsonb_to_recordset($4::jsonb) as r (batch int, from_seq int, to_seq int)`,
    [BATCH_TASK, runId, batches, JSON.stringify(ranges.map((r) => ({ batch: r.batch, from_seq: r.from, to_seq: r.to })))],
  );
  log.info({ event: 'recovery.split', batches }, `Recovery split into ${batches} batch jobs`);
  let errors = 0;
  try {
    for (;;) {
      const { rows: last } = await client.query<{ seq: number | null }>('select max(queue.seq) as seq from ops.recovery_queue as queue where queue.run_id = $1::bigint', [runId]);
      const seq = last[0]!.seq;
      if (seq === null) break;
      if (hooks.shouldStop?.()) throw new Error('stopped by shutdown while queued leads were left to batch jobs');
      const range = ranges.find((r) => r.from <= seq && seq <= r.to)!;
      const started = Date.now();
      const counts = zero();
      errors += await processRange(client, runId, range.from, range.to, counts, log);
      const ms = Date.now() - started;
      log.info({ event: 'recovery.batch', batch: range.batch, batches, by: 'planner', ...counts, ms },
        `Batch ${range.batch}/${batches} done by the planning job: matched=${counts.matched}, failed=${counts.failed}, pending=${counts.pending}, skipped=${counts.skipped} (${ms} ms)`);
    }
  } finally {
    await client.query(`select graphile_worker.remove_job(keys.job_key) from unnest($1::text[]) as keys (job_key)`, [jobKeys]).catch(() => undefined);
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

/** How a failed batch is handled, by the error's class (issue 15 item 3). */
export type ErrorClass = 'data' | 'unique' | 'transient' | 'connection' | 'fatal';

/**
 * - data: SQLSTATE classes 22 and 23 and errors the rules raise (P0001): the batch is split down to the failing lead;
 * - unique (23505): a link or job row written meanwhile by hand; the batch is retried whole after planning its leads
 *   again (once; a second one is a data error);
 * - transient: serialization failures (40001) and deadlocks (40P01), retried whole up to 3 times with backoff;
 * - connection: the connection is gone (class 08, 57P01-03): the lane's batch is retried on a new connection;
 * - fatal: anything else (53 resources, 57014 cancels and timeouts, 42 and XX bugs): the run fails with the message
 *   and no lead is marked ERROR.
 */
export function errorClass(e: unknown): ErrorClass {
  if (isConnectionError(e)) return 'connection';
  const code = (e as { code?: string }).code ?? '';
  if (code === '23505') return 'unique';
  if (code.startsWith('22') || code.startsWith('23') || code === 'P0001') return 'data';
  if (code === '40001' || code === '40P01') return 'transient';
  return 'fatal';
}

export const TRANSIENT_RETRIES = 3;

async function runBatch(client: pg.ClientBase, runId: number, from: number, to: number): Promise<BatchCounts> {
  try {
    await client.query('begin');
    await client.query("set local work_mem = '256MB'");
    const { rows } = await client.query<BatchCounts>('select * from ops.process_identity_batch($1, $2, $3)', [runId, from, to]);
    await client.query('commit');
    return rows[0]!;
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}

/**
 * Processes queue positions [from, to] in one transaction, by the error classes of errorClass: retried whole on a
 * transient error or a unique violation, halved on a data error until the failing lead is alone (recorded ERROR
 * with the database message), thrown on anything else. Returns how many leads were recorded ERROR.
 */
export async function processRange(client: pg.ClientBase, runId: number, from: number, to: number, into: BatchCounts, log: Log): Promise<number> {
  let transient = 0;
  let replanned = false;
  for (;;) {
    try {
      const r = await runBatch(client, runId, from, to);
      into.processed += r.processed;
      into.matched += r.matched;
      into.failed += r.failed;
      into.pending += r.pending;
      into.skipped += r.skipped;
      return 0;
    } catch (e) {
      const kind = errorClass(e);
      const message = (e as Error).message;
      if (kind === 'transient' && transient < TRANSIENT_RETRIES) {
        transient += 1;
        log.warn({ event: 'recovery.batch_retry', from, to, attempt: transient, code: (e as { code?: string }).code, error: message }, `batch ${from}-${to} retried whole: ${message}`);
        await sleep(100 * 2 ** transient + Math.random() * 100);
        continue;
      }
      if (kind === 'unique' && !replanned) {
        replanned = true;
        log.warn({ event: 'recovery.batch_replan', from, to, error: message }, `batch ${from}-${to} planned again and retried whole: ${message}`);
        await client.query('select ops.replan_batch($1, $2, $3)', [runId, from, to]);
        continue;
      }
      if (kind !== 'data' && kind !== 'unique') throw e;
      if (from === to) {
        const { rows } = await client.query<{ status: string }>('select status from ops.record_lead_error($1, $2, $3)', [runId, from, message]);
        log.warn({ event: 'recovery.lead_error', seq: from, error: message }, `A lead failed with a database error and was recorded as ERROR: ${message}`);
        into.processed += 1;
        if (rows[0]?.status === 'failed') into.failed += 1;
        else into.pending += 1;
        return 1;
      }
      const mid = Math.floor((from + to) / 2);
      log.debug({ event: 'recovery.batch_split', from, to, error: message }, 'batch failed on a data error; splitting it');
      return (await processRange(client, runId, from, mid, into, log)) + (await processRange(client, runId, mid + 1, to, into, log));
    }
  }
}
/** Errors that no split can cure: the connection or the server is gone. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || /Connection terminated|ECONNRESET|ECONNREFUSED|not queryable/i.test((e as Error).message ?? '');
}
