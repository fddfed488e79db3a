import { readFileSync } from 'node:fs';
import { run, type Runner, type TaskList } from 'graphile-worker';
import checkIdentityGapAlerts from '../tasks/check_identity_gap_alerts.js';
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

/** Starts Graphile Worker with our tasks and crontab; signals are handled by the caller (graceful shutdown of worker and API together). */
export async function startWorker(opts: WorkerOptions): Promise<Runner> {
  const runner = await run({
    connectionString: opts.connectionString,
    concurrency: opts.concurrency,
    maxPoolSize: opts.concurrency + 2,
    taskList,
    crontab: opts.noCron ? '' : readCrontab(),
    logger: graphileLogger(opts.log),
    noHandleSignals: true,
    pollInterval: opts.pollInterval ?? 2000,
  });
  opts.log.info({ event: 'worker.started', concurrency: opts.concurrency, tasks: Object.keys(taskList) }, `worker started (concurrency ${opts.concurrency})`);
  return runner;
}
