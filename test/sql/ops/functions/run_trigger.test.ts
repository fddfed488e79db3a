import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { objectsDefining } from '../../../support/gap_dataset.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('delete from ops.job_triggers');
});

const runTrigger = async (trigger: string, jobId: number | null) =>
  (await db.pool.query<{ t: string }>('select ops.run_trigger($1, $2) as t', [trigger, jobId])).rows[0]!.t;

describe('ops.run_trigger', () => {
  it('keeps cron, and the trigger of a run with no worker job', async () => {
    await db.pool.query(`insert into ops.job_triggers (job_id, trigger) values (7, 'api')`);
    expect(await runTrigger('cron', 7)).toBe('cron');
    expect(await runTrigger('cli', null)).toBe('cli');
  });

  it('takes the trigger ops.enqueue_job recorded for the job, and sql for a job it did not queue, whatever the worker passes', async () => {
    await db.pool.query(`insert into ops.job_triggers (job_id, trigger) values (7, 'api')`);
    expect(await runTrigger('sql', 7)).toBe('api');
    expect(await runTrigger('api', 8)).toBe('sql');
  });

  it('is the one place ops.start_run and ops.reject_run read ops.job_triggers from', async () => {
    expect(await objectsDefining(db.pool, 'triggers\\.trigger\\s+from ops\\.job_triggers')).toEqual(['ops.run_trigger']);
  });
});
