import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { snapshotParamsSchema } from '../src/payloads.js';
import { jobIdOf, withRun } from '../src/runs.js';

/** Upserts the day's row of ops.identity_gap_daily. */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'snapshot_identity_gap', schema: snapshotParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (params, { client, log }) => {
      const { rows } = await client.query('select * from ops.snapshot_identity_gap($1::date)', [params.date ?? null]);
      const day = rows[0];
      log.info({ event: 'snapshot.written', snapshot_date: day.snapshot_date, total_leads: day.total_leads, unresolved: day.unresolved, pct_unresolved: Number(day.pct_unresolved) },
        `Gap snapshot for ${day.snapshot_date}: ${day.unresolved}/${day.total_leads} unresolved (${day.pct_unresolved}%)`);
      return { stats: { snapshot_date: day.snapshot_date, unresolved: day.unresolved, total_leads: day.total_leads } };
    },
  );
};
export default task;
