import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { recoveryParamsSchema } from '../src/payloads.js';
import { runRecovery } from '../src/recovery.js';
import { jobIdOf, withRun } from '../src/runs.js';
import { shutdownRequested } from '../src/shutdown.js';

/**
 * Recovers unresolved leads in batches (docs/matching-rules.md), records the run, then queues
 * snapshot_identity_gap so the daily history follows every recovery.
 */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (params, { client, runId, log }) => {
      const result = await runRecovery(client, runId, params, log, { shouldStop: shutdownRequested, secondConnection: helpers.withPgClient });
      await client.query(`select graphile_worker.add_job('snapshot_identity_gap', '{}'::json, job_key => 'snapshot_after_recovery', job_key_mode => 'replace')`);
      log.info({ event: 'snapshot.queued' }, 'snapshot_identity_gap queued');
      return { stats: { candidates: result.candidates, batches: result.batches, errors: result.errors, index_refresh: result.indexRefresh ?? null } };
    },
  );
};
export default task;
