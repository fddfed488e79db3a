import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { run, type Runner, type TaskList } from 'graphile-worker';
import pg from 'pg';
import checkIdentityGapAlerts from '../tasks/check_identity_gap_alerts.js';
import recoverArrivals from '../tasks/recover_arrivals.js';
import recoverIdentityBatch from '../tasks/recover_identity_batch.js';
import refreshDriversIndex from '../tasks/refresh_drivers_index.js';
import retryIdentityMatching from '../tasks/retry_identity_matching.js';
import snapshotIdentityGap from '../tasks/snapshot_identity_gap.js';
import { graphileLogger, type Log } from './log.js';
import { CRONTAB_FILE } from './paths.js';

/**
 * The tasks, listed explicitly: Node 20 cannot load .ts task files, and an
 * explicit list works the same from src/ (tests) and dist/ (the CLI).
 */
export const taskList: TaskList = {
  retry_identity_matching: retryIdentityMatching,
  recover_identity_batch: recoverIdentityBatch,
  recover_arrivals: recoverArrivals,
  refresh_drivers_index: refreshDriversIndex,
  snapshot_identity_gap: snapshotIdentityGap,
  check_identity_gap_alerts: checkIdentityGapAlerts,
};

export function readCrontab(): string {
  return readFileSync(CRONTAB_FILE, 'utf8');
}

export interface WorkerOptions {
  connectionString: string;
  concurrency: number;
  log: Log;
  /** Without the crontab (tests that queue jobs themselves). */
  noCron?: boolean;
  /** Without the arrivals listener (tests that queue jobs themselves). */
  noArrivals?: boolean;
  pollInterval?: number;
}

/**
 * Graphile Worker settings common to 0.17 and 0.18 (the `preset.worker` keys exist since 0.17.0). Job completion
 * and failure go through Graphile's batcher (delay 0: written at once, as unbatched): a database that is gone then
 * ends the worker pool through its error handler and `runner.promise`, where the supervisor below restarts it.
 * Unbatched (the default, -1), graphile-worker calls `batchFailJobs`/`batchCompleteJobs` without awaiting them, and
 * a refused connection becomes an unhandled rejection that kills the whole process (API included).
 */
export const WORKER_PRESET = { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } };

/** Starts Graphile Worker with our tasks and crontab; signals are handled by the caller (graceful shutdown of worker and API together). */
export async function startWorker(opts: WorkerOptions, events?: EventEmitter): Promise<Runner> {
  const runner = await run({
    ...(events ? { events: events as NonNullable<Parameters<typeof run>[0]['events']> } : {}),
    connectionString: opts.connectionString,
    concurrency: opts.concurrency,
    maxPoolSize: opts.concurrency + 2,
    taskList,
    crontab: opts.noCron ? '' : readCrontab(),
    logger: graphileLogger(opts.log),
    noHandleSignals: true,
    pollInterval: opts.pollInterval ?? 2000,
    preset: WORKER_PRESET,
  });
  opts.log.info({ event: 'worker.started', concurrency: opts.concurrency, tasks: Object.keys(taskList) }, `worker started (concurrency ${opts.concurrency})`);
  return runner;
}

export interface SupervisedWorker {
  /** Stops the current runner (letting its jobs finish) and restarts no more. */
  stop(): Promise<void>;
}

/**
 * Runs the worker and starts it again whenever it stops on its own: the database went away (Graphile ends its pool
 * when it cannot record a job's end), or could not be reached at start. Restarts back off from 1 s to 30 s, so an
 * outage of any length ends with a worker again, in the same process as the API, which never goes down with it.
 * The first start is awaited (a wrong URL or missing migrations fail `idgap start` at once); later ones are not.
 */
export async function superviseWorker(opts: WorkerOptions): Promise<SupervisedWorker> {
  /* Graphile's own reason for ending a pool (`pool:fatalError`: e.g. it could not record a job's failure), for the log. */
  let fatal: string | undefined;
  const events = new EventEmitter();
  events.on('pool:fatalError', ({ error, action }: { error: unknown; action?: string }) => {
    fatal = `${action ?? 'worker'}: ${error instanceof Error ? error.message : String(error)}`;
  });
  let runner: Runner | undefined = await startWorker(opts, events);
  const arrivals = opts.noArrivals ? undefined : listenForArrivals(opts);
  let stopping = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    let failures = 0;
    while (!stopping) {
      const ended: Error | undefined = await runner!.promise.then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      runner = undefined;
      if (stopping) return;
      const reason = ended?.message ?? fatal ?? 'the worker pool ended';
      fatal = undefined;
      opts.log.error({ event: 'worker.crashed', error: reason }, `worker stopped: ${reason}; restarting it`);
      while (!stopping && runner === undefined) {
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));
        await sleep(delay);
        if (stopping) return;
        try {
          runner = await startWorker(opts, events);
          if (stopping) {
            await runner.stop().catch(() => undefined);
            return;
          }
          opts.log.warn({ event: 'worker.restarted', after_failures: failures }, 'worker restarted');
          failures = 0;
        } catch (e) {
          failures += 1;
          opts.log.warn({ event: 'worker.restart_failed', attempt: failures, error: (e as Error).message }, `worker could not restart: ${(e as Error).message}`);
        }
      }
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      wake?.();
      await arrivals?.stop();
      await runner?.stop().catch(() => undefined);
      await loop;
    },
  };
}

export interface ArrivalsListener {
  /** Resolves once the listener has run its first sweep (or failed to connect, and retries). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Recovery as data arrives: the hand-off from the loaders' triggers to the job queue. The triggers on the raw tables
 * record the changed ids in ops.lead_changes (inserted leads as id ranges, ops.lead_insert_ranges) / ops.driver_changes and NOTIFY idgap_arrivals; they never call add_job,
 * whose job-key row lock would make concurrent loaders wait on each other until commit. This listener, on its own
 * connection, answers a notification with `ops.queue_arrivals()` (one recover_arrivals job per batching window; a
 * burst of notifications while a call runs makes one more call, not one each). The work lists are the source of
 * truth: notifications are lost while the worker is down and add_job can return null under contention
 * (graphile/worker #580), so the listener also sweeps, at each (re)connection and every arrival_sweep_interval_ms,
 * queueing for any change older than the batching delay that waits with no job. A lost connection is retried with
 * the supervisor's backoff (1 s to 30 s); the sweep after it catches up on what was missed.
 */
export function listenForArrivals(opts: Pick<WorkerOptions, 'connectionString' | 'log'>): ArrivalsListener {
  const { log } = opts;
  let stopping = false;
  let client: pg.Client | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  /* One call at a time on the connection; notifications arriving meanwhile make one more call after it. */
  let busy = false;
  let again: 'notify' | 'sweep' | undefined;
  const queue = async (c: pg.Client, reason: 'notify' | 'sweep'): Promise<void> => {
    if (busy) {
      again = again === 'sweep' || reason === 'sweep' ? 'sweep' : 'notify';
      return;
    }
    busy = true;
    try {
      for (let next: 'notify' | 'sweep' | undefined = reason; next && !stopping; ) {
        again = undefined;
        const { rows } = await c.query<{ job_id: string | null }>(
          next === 'sweep' ? `select ops.queue_arrivals(ops.setting_integer('arrival_batch_delay_ms')) as job_id` : 'select ops.queue_arrivals() as job_id',
        );
        if (rows[0]!.job_id !== null) log.debug({ event: 'arrivals.queued', job_id: Number(rows[0]!.job_id), reason: next }, `recover_arrivals job ${rows[0]!.job_id} queued (${next})`);
        next = again;
      }
    } catch (e) {
      if (!stopping) log.warn({ event: 'arrivals.queue_failed', error: (e as Error).message }, `could not queue recover_arrivals: ${(e as Error).message}; the sweep tries again`);
    } finally {
      busy = false;
    }
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    let failures = 0;
    while (!stopping) {
      const c = new pg.Client({ connectionString: opts.connectionString, application_name: 'idgap-arrivals' });
      /* A permanent error listener: a pg client that emits 'error' with none kills the process. */
      const lost = new Promise<Error>((resolve) => {
        c.on('error', (e: Error) => resolve(e));
        c.once('end', () => resolve(new Error('connection ended')));
      });
      try {
        await c.connect();
        client = c;
        c.on('notification', () => void queue(c, 'notify'));
        await c.query('listen idgap_arrivals');
        const { rows } = await c.query<{ ms: number | null }>(`select ops.setting_integer('arrival_sweep_interval_ms') as ms`);
        const every = Math.max(1000, rows[0]!.ms ?? 5000);
        await queue(c, 'sweep');
        sweepTimer = setInterval(() => void queue(c, 'sweep'), every);
        log.info({ event: 'arrivals.listening', sweep_interval_ms: every, after_failures: failures }, 'listening for arrivals (idgap_arrivals)');
        failures = 0;
        markReady();
        const error = await lost;
        if (stopping) break;
        log.warn({ event: 'arrivals.connection_lost', error: error.message }, `arrivals listener lost its connection: ${error.message}; reconnecting`);
      } catch (e) {
        failures += 1;
        if (!stopping) log.warn({ event: 'arrivals.connect_failed', attempt: failures, error: (e as Error).message }, `arrivals listener could not connect: ${(e as Error).message}`);
        markReady();
      } finally {
        clearInterval(sweepTimer);
        client = undefined;
        c.removeAllListeners('notification');
        await c.end().catch(() => undefined);
      }
      if (!stopping) await sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    }
  })();
  return {
    ready,
    stop: async () => {
      stopping = true;
      wake?.();
      clearInterval(sweepTimer);
      await client?.end().catch(() => undefined);
      await loop;
    },
  };
}
