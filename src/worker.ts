import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { run, type Runner, type TaskList } from 'graphile-worker';
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
      await runner?.stop().catch(() => undefined);
      await loop;
    },
  };
}
