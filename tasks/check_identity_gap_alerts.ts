import type { Task } from 'graphile-worker';
import { logger } from '../src/log.js';
import { alertsParamsSchema } from '../src/payloads.js';
import { jobIdOf, withRun } from '../src/runs.js';

interface HealthRow {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  value: string | null;
  threshold: string | null;
  hint: string | null;
}

/** Reads ops.v_identity_gap_health and logs every check that is not ok: warn at warn, fail at error. */
const task: Task = async (payload, helpers) => {
  await withRun(
    helpers.withPgClient,
    { task: 'check_identity_gap_alerts', schema: alertsParamsSchema, payload, workerJobId: jobIdOf(helpers), log: logger() },
    async (_params, { client, log }) => {
      const { rows } = await client.query<HealthRow>('select "check", status, value::text as value, threshold::text as threshold, hint from ops.v_identity_gap_health');
      let warn = 0;
      let fail = 0;
      for (const row of rows) {
        const fields = { event: 'alert.check', check: row.check, status: row.status, value: row.value, threshold: row.threshold, hint: row.hint };
        if (row.status === 'fail') {
          fail += 1;
          log.error(fields, `Health check ${row.check} FAILS (value ${row.value}, threshold ${row.threshold}): ${row.hint}`);
        } else if (row.status === 'warn') {
          warn += 1;
          log.warn(fields, `Health check ${row.check} warns (value ${row.value}, threshold ${row.threshold}): ${row.hint}`);
        }
      }
      log.info({ event: 'alert.summary', checks: rows.length, warn, fail }, `Health checks: ${rows.length} checked, ${warn} warn, ${fail} fail`);
      return { stats: { checks: rows.length, warn, fail } };
    },
  );
};
export default task;
