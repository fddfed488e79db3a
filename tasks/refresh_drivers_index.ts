import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { refreshParamsSchema } from '../src/payloads.js';
import { refreshDriversIndex } from '../src/recovery.js';
import { jobIdOf, withRun } from '../src/runs.js';

/** Rebuilds canon.drivers_index from public.drivers (writes only what changed). */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'refresh_drivers_index', schema: refreshParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (_params, { client, log }) => {
      const started = Date.now();
      const result = await refreshDriversIndex(client);
      log.info({ event: 'index.refreshed', ...result, duration_ms: Date.now() - started },
        `Drivers index refreshed: ${result.total} drivers (inserted=${result.inserted}, updated=${result.updated}, deleted=${result.deleted})`);
      return { stats: { ...result } };
    },
  );
};
export default task;
