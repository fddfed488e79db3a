import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { batchParamsSchema, processRange, type BatchCounts } from '../src/recovery.js';
import { jobIdOf, withRun } from '../src/runs.js';

/**
 * One batch of a split recovery run (retry_identity_matching with `split`):
 * processes queue positions from_seq..to_seq of the parent run in one
 * transaction (halved on failure, like an in-process run). Its own ledger row
 * records the batch; the leads' counts go to the parent run. A batch whose
 * parent is no longer running (finished, or abandoned and swept) does nothing.
 */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'recover_identity_batch', schema: batchParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (params, { client, log }) => {
      await client.query('select ops.fail_abandoned_runs()');
      const parent = await client.query<{ state: string }>('select state from ops.job_runs where id = $1', [params.run_id]);
      if (parent.rows[0]?.state !== 'running') {
        log.warn({ event: 'recovery.batch_orphaned', parent_run_id: params.run_id, parent_state: parent.rows[0]?.state ?? null },
          `Batch of run ${params.run_id} skipped: the run is ${parent.rows[0]?.state ?? 'missing'}`);
        return { stats: { parent_run_id: params.run_id, orphaned: true } };
      }
      const started = Date.now();
      const counts: BatchCounts = { processed: 0, matched: 0, failed: 0, pending: 0, skipped: 0 };
      const errors = await processRange(client, params.run_id, params.from_seq, params.to_seq, counts, log);
      const ms = Date.now() - started;
      const batch = params.batch ?? 0;
      const batches = params.batches ?? 0;
      log.info({ event: 'recovery.batch', parent_run_id: params.run_id, batch, batches, ...counts, errors, ms },
        `Batch ${batch}/${batches} of run ${params.run_id} done: matched=${counts.matched}, failed=${counts.failed}, pending=${counts.pending}, skipped=${counts.skipped} (${ms} ms)`);
      return { stats: { parent_run_id: params.run_id, from_seq: params.from_seq, to_seq: params.to_seq, errors, ...counts } };
    },
  );
};
export default task;
