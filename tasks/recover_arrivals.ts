import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { arrivalsParamsSchema } from '../src/payloads.js';
import { runArrivals } from '../src/recovery.js';
import { jobIdOf, withRun } from '../src/runs.js';
import { shutdownRequested } from '../src/shutdown.js';

/**
 * The incremental run: takes the arrival work lists (ops.lead_changes, ops.driver_changes), refreshes the changed
 * drivers' index rows, re-opens only the leads they meet, and runs the engine on the taken and re-opened leads
 * (ops.plan_arrivals). Queued with job_key recover_arrivals in the serial queue retry_identity_matching, so it never
 * runs beside a full run; it holds the recovery lock as well.
 */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'recover_arrivals', schema: arrivalsParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (_params, { client, runId, log }) => {
      const result = await runArrivals(client, runId, log, { shouldStop: shutdownRequested, secondConnection: helpers.withPgClient });
      return { stats: { ...result.arrivals, candidates: result.candidates, batches: result.batches, errors: result.errors } };
    },
  );
};
export default task;
