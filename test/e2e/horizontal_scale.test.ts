import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoveredState, resetRecoveryWrites, seedBulk } from '../support/bulk.js';
import { resetData } from '../support/fixtures.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';
import { expectInvariants } from '../support/invariants.js';
import { spawnWorker, until, type WorkerProcess } from '../support/worker-process.js';

/* Modest by default on the shared 2-core machine; IDGAP_SCALE_LEADS to change. */
const LEADS = Number(process.env.IDGAP_SCALE_LEADS ?? 30_000);
const BATCH = 2000;
/* The single-slot test only needs a few batches. */
const LONE_LEADS = 3 * BATCH;

const db = await useTestDatabase();
const workers: WorkerProcess[] = [];
const figures: Record<string, unknown> = { leads: LEADS, batch_size: BATCH };

beforeAll(async () => ensureCliBuilt(), 180_000);
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  console.log(`horizontal-scale figures: ${JSON.stringify(figures)}`);
});

/** Queues one split recovery, waits until its run succeeded; returns the wall time from queuing to the end of the run. */
async function splitRecovery(): Promise<{ ms: number; runId: string }> {
  const t = Date.now();
  await db.pool.query(`select graphile_worker.add_job('retry_identity_matching', json_build_object('batch_size', ${BATCH}::int, 'split', true))`);
  const run = await until(async () => {
    const { rows } = await db.pool.query(`select id, state, error from ops.job_runs where task = 'retry_identity_matching' and state <> 'running' order by id desc limit 1`);
    return rows[0] as { id: string; state: string; error: string | null } | undefined;
  }, 300_000, 50) as { id: string; state: string; error: string | null };
  const ms = Date.now() - t;
  expect(run.error).toBeNull();
  expect(run.state).toBe('succeeded');
  return { ms, runId: run.id };
}

async function stopAll(list: WorkerProcess[]): Promise<void> {
  for (const w of list) w.kill('SIGTERM');
  for (const w of list) expect((await w.exited).code).toBe(0);
}

describe('horizontal scale', () => {
  it('three worker processes sharing one split recovery end in the state of one process, with no duplicate', async () => {
    await resetData(db.pool);
    await seedBulk(db.pool, LEADS);

    // One process (concurrency 2: the planning job holds one slot, batch jobs take the other).
    const single = spawnWorker(db.url, { concurrency: 2 });
    workers.push(single);
    await single.waitFor((l) => l.event === 'worker.started');
    const one = await splitRecovery();
    figures.single_process_ms = one.ms;
    await stopAll([single]);
    const reference = await recoveredState(db.pool);
    expect(reference.lead_links.length).toBe(Math.floor(LEADS / 3) + Math.floor((LEADS + 2) / 3));
    const leftJobs = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'recover_identity_batch'`);
    expect(leftJobs.rows[0].n).toBe(0); // batch jobs not needed any more are removed
    await resetRecoveryWrites(db.pool);

    // Three processes, concurrency 2 each.
    const three = [0, 1, 2].map(() => spawnWorker(db.url, { concurrency: 2 }));
    workers.push(...three);
    await Promise.all(three.map((w) => w.waitFor((l) => l.event === 'worker.started')));
    const many = await splitRecovery();
    figures.three_processes_ms = many.ms;
    figures.speed_up = Number((one.ms / many.ms).toFixed(2));
    await stopAll(three);
    const leadsBy = (w: WorkerProcess) => w.lines.filter((l) => l.event === 'recovery.batch').reduce((sum, l) => sum + Number(l.processed), 0);
    const perProcess = three.map(leadsBy);
    figures.leads_per_process = perProcess;
    figures.batches_by_planner_vs_jobs = [
      three.flatMap((w) => w.lines).filter((l) => l.event === 'recovery.batch' && l.by === 'planner' && Number(l.processed) > 0).length,
      three.flatMap((w) => w.lines).filter((l) => l.event === 'recovery.batch' && l.by !== 'planner' && Number(l.processed) > 0).length,
    ];
    expect(perProcess.reduce((a, b) => a + b, 0)).toBe(LEADS); // every lead processed once
    expect(perProcess.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2); // the work really was shared

    const parent = await db.pool.query(`select processed, matched, stats from ops.job_runs where id = $1`, [many.runId]);
    expect(parent.rows[0].processed).toBe(LEADS);
    const after = await recoveredState(db.pool);
    expect(after).toEqual(reference);
    // Against the data's own truth (lead g is driver drv-g's), not only against the single process: every linked lead
    // is linked to its driver's person, and every person has exactly one driver (no person made twice for a driver).
    const truth = await db.pool.query(`
      select
        (select count(*) from canon.identity_links as lead_link
           join public.module_ct_cabinet_leads as lead on coalesce(lead.external_id, lead.id::text) = lead_link.source_pk
           left join canon.identity_links as driver_link on driver_link.person_key = lead_link.person_key and driver_link.source_table = 'drivers'
          where lead_link.source_table = 'module_ct_cabinet_leads'
            and driver_link.source_pk is distinct from 'drv-' || substr(lead.first_name, 7))::int as wrong_driver,
        (select count(*) from canon.identity_registry as person
          where (select count(*) from canon.identity_links as driver_link
                  where driver_link.person_key = person.person_key and driver_link.source_table = 'drivers') <> 1)::int as persons_without_one_driver`);
    expect(truth.rows[0]).toEqual({ wrong_driver: 0, persons_without_one_driver: 0 });
    const errors = await db.pool.query(`select count(*)::int as n from ops.job_runs where state <> 'succeeded'`);
    expect(errors.rows[0].n).toBe(0);
    await expectInvariants(db.pool);
  }, 600_000);

  it('one process with a single worker slot finishes a split recovery alone (the planning job works too)', async () => {
    // Its own data: it passes or fails alone, whatever ran before it.
    await resetData(db.pool);
    await seedBulk(db.pool, LONE_LEADS);
    const lone = spawnWorker(db.url, { concurrency: 1 });
    workers.push(lone);
    await lone.waitFor((l) => l.event === 'worker.started');
    await splitRecovery();
    await stopAll([lone]);
    expect(lone.lines.filter((l) => l.event === 'recovery.batch' && l.by === 'planner').length).toBe(Math.ceil(LONE_LEADS / BATCH));
    expect((await recoveredState(db.pool)).lead_links.length).toBe(Math.floor(LONE_LEADS / 3) + Math.floor((LONE_LEADS + 2) / 3));
    const left = await db.pool.query(`select count(*)::int as n from graphile_worker.jobs`);
    expect(left.rows[0].n).toBeLessThanOrEqual(1); // at most the snapshot queued after the run
    await expectInvariants(db.pool);
  }, 600_000);
});
