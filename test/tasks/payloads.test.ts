import { runOnce } from 'graphile-worker';
import { afterAll, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/log.js';
import { taskList } from '../../src/worker.js';
import { useTestDatabase } from '../support/db.js';
import { silentLog } from '../support/log.js';
import { until } from '../support/worker-process.js';

/* SPEC 9 "bad job payloads": whatever arrives from SQL, every task records a rejected run with a message and the job is not retried. */
const db = await useTestDatabase();
const tasks = Object.keys(taskList).sort();
const huge = JSON.stringify({ limit: 10, note: 'x'.repeat(2_000_000) });
const malformed: Array<[string, string]> = [
  ['an array', '[1, 2, 3]'],
  ['a string', '"recover everything"'],
  ['null', 'null'],
  ['a number', '42'],
  ['an unknown field', '{"colour": "red"}'],
  ['a huge payload (2 MB)', huge],
];
let rejects = 0;
afterAll(() => console.log(`malformed payloads rejected: ${rejects} (${tasks.length} tasks x ${malformed.length} payloads)`));

describe('malformed payloads from SQL', () => {
  it.each(tasks)('%s rejects every malformed payload with a message, once, and keeps the ledger small', async (task) => {
    await db.pool.query('truncate ops.job_runs');
    for (const [, payload] of malformed) await db.pool.query('select graphile_worker.add_job($1, $2::json)', [task, payload]);
    await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });
    const { rows } = await db.pool.query(`select state, error, params, length(params::text) as params_bytes from ops.job_runs where task = $1 order by id`, [task]);
    expect(rows.map((r) => r.state)).toEqual(malformed.map(() => 'rejected'));
    rows.forEach((r, i) => {
      expect(r.error, malformed[i]![0]).toMatch(new RegExp(`^invalid payload for ${task}: .+`));
      expect(r.error.length).toBeLessThan(2100);
      expect(r.params_bytes).toBeLessThan(17_000);
    });
    expect(rows[5].params).toEqual({ _truncated: true, bytes: huge.length });
    rejects += rows.length;
    // rejected jobs complete (Graphile may report the last completion just after runOnce returns): no 25 retries
    await until(async () => {
      const left = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = $1`, [task]);
      return left.rows[0].n === 0;
    }, 10_000);
  });

  it('an omitted payload is an empty one, not a rejected one', async () => {
    await db.pool.query('truncate ops.job_runs');
    await db.pool.query(`select graphile_worker.add_job('check_identity_gap_alerts')`);
    await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(silentLog()) });
    const { rows } = await db.pool.query(`select state from ops.job_runs where task = 'check_identity_gap_alerts'`);
    expect(rows).toEqual([{ state: 'succeeded' }]);
  });
});
