import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { recoveryParamsSchema, runState, wholeNumber } from '../../payloads.js';
import type { ApiOptions } from '../server.js';
import { notFound, parseParams, refuseBody, requireToken } from '../http.js';

const idParam = (name: string) =>
  z
    .object({
      [name]: z
        .string()
        .regex(/^[1-9]\d{0,17}$/, { message: 'must be a positive whole number' }),
    })
    .strict();

export const runsQuerySchema = z
  .object({
    limit: wholeNumber(1, 200).default(20),
    task: z.string().regex(/^[a-z_]{1,64}$/, { message: 'must be a task identifier (lower-case letters and _)' }).optional(),
    state: runState.optional(),
  })
  .strict();

/* The run ledger's columns, as JSON numbers and ISO timestamps. */
const RUN_JSON = `jsonb_build_object(
  'id', runs.id, 'task', runs.task, 'trigger', runs.trigger, 'params', runs.params, 'state', runs.state,
  'started_at', runs.started_at, 'finished_at', runs.finished_at, 'duration_ms', runs.duration_ms,
  'processed', runs.processed, 'matched', runs.matched, 'failed', runs.failed, 'pending', runs.pending, 'skipped', runs.skipped,
  'stats', runs.stats, 'error', runs.error, 'worker_job_id', runs.worker_job_id)`;

/*
 * A worker job and the run it produced. Graphile deletes a job when it
 * succeeds, so once the job is gone the ledger's run tells the outcome.
 */
const JOB_SQL = `
with job as (
  select queued.id, queued.task_identifier as task, queued.queue_name, queued.key, queued.run_at, queued.attempts,
         queued.max_attempts, queued.last_error, queued.locked_at, queued.created_at, queued.updated_at
  from graphile_worker.jobs as queued
  where queued.id = $1::bigint
),
run as (
  select ${RUN_JSON} as run, runs.state
  from ops.job_runs as runs
  where runs.worker_job_id = $1::bigint
  order by runs.id desc
  limit 1
)
select (select to_jsonb(job) from job) as job,
       (select run.run from run) as run,
       /* The ledger decides once a run has ended well: Graphile deletes the job
          right after, and its completion may land a moment later. */
       case
         when (select run.state from run) in ('succeeded', 'rejected') then (select run.state from run)
         when not exists (select 1 from job) then (select run.state from run)
         when exists (select 1 from job where job.locked_at is not null) then 'running'
         when exists (select 1 from job where job.attempts >= job.max_attempts) then 'failed'
         when exists (select 1 from job where job.attempts > 0) then 'retrying'
         else 'queued'
       end as status`;

interface Queued {
  job_id: string;
  already_queued: boolean;
  running_job_id: string | null;
}

/** Queues `task` under its own job key and serial queue (ops.enqueue_job): at most one waiting and one running. */
async function enqueue(pool: ApiOptions['pool'], task: string, payload: Record<string, unknown>): Promise<Queued> {
  const { rows } = await pool.query<Queued>('select * from ops.enqueue_job($1, $2::jsonb, $3)', [task, JSON.stringify({ ...payload, _trigger: 'api' }), task]);
  return rows[0]!;
}

/** The 202 body of a write endpoint: the job, where to follow it, and whether it joined a waiting or running one. */
function accepted(task: string, r: Queued) {
  return {
    task,
    job_id: Number(r.job_id),
    run_id: null,
    status_url: `/api/v1/ops/jobs/${r.job_id}`,
    already_queued: r.already_queued,
    running: r.running_job_id !== null,
    running_job_id: r.running_job_id === null ? null : Number(r.running_job_id),
  };
}

export function registerJobRoutes(app: FastifyInstance, { pool, config }: ApiOptions): void {
  const auth = requireToken(config);

  app.post('/api/v1/ops/identity-gaps/run-recovery', { preHandler: auth }, async (req, reply) => {
    refuseBody(req);
    const params = parseParams(recoveryParamsSchema, req.query);
    const r = await enqueue(pool, 'retry_identity_matching', params);
    req.log.info({ event: 'api.job_queued', task: 'retry_identity_matching', job_id: r.job_id, already_queued: r.already_queued, running_job_id: r.running_job_id, params }, 'recovery queued through the API');
    return reply.code(202).send({
      ...accepted('retry_identity_matching', r),
      params,
      message: r.already_queued
        ? 'a recovery was already queued: it now carries these parameters and keeps its place (no second run)'
        : r.running_job_id !== null
          ? 'a recovery is running: this one is queued to start after it'
          : 'recovery queued',
    });
  });

  app.post('/api/v1/identity/drivers-index/refresh', { preHandler: auth }, async (req, reply) => {
    refuseBody(req);
    parseParams(z.object({}).strict(), req.query);
    const r = await enqueue(pool, 'refresh_drivers_index', {});
    req.log.info({ event: 'api.job_queued', task: 'refresh_drivers_index', job_id: r.job_id, already_queued: r.already_queued }, 'drivers index refresh queued through the API');
    return reply.code(202).send(accepted('refresh_drivers_index', r));
  });

  app.get('/api/v1/ops/runs', async (req) => {
    const q = parseParams(runsQuerySchema, req.query);
    const { rows } = await pool.query<{ run: unknown }>(
      `select ${RUN_JSON} as run
       from ops.job_runs as runs
       where ($2::text is null or runs.task = $2::text) and ($3::text is null or runs.state = $3::text)
       order by runs.id desc
       limit $1`,
      [q.limit, q.task ?? null, q.state ?? null],
    );
    return { items: rows.map((r) => r.run) };
  });

  app.get('/api/v1/ops/runs/:id', async (req) => {
    const { id } = parseParams(idParam('id'), req.params);
    const { rows } = await pool.query<{ run: unknown }>(`select ${RUN_JSON} as run from ops.job_runs as runs where runs.id = $1::bigint`, [id]);
    if (rows.length === 0) throw notFound(`run ${id} does not exist`);
    return rows[0]!.run;
  });

  app.get('/api/v1/ops/jobs/:job_id', async (req) => {
    const { job_id } = parseParams(idParam('job_id'), req.params);
    const { rows } = await pool.query<{ job: unknown; run: { id: number } | null; status: string | null }>(JOB_SQL, [job_id]);
    const r = rows[0]!;
    if (r.status === null) throw notFound(`job ${job_id} is neither queued nor recorded in the run ledger`);
    return { job_id: Number(job_id), status: r.status, run_id: r.run?.id ?? null, job: r.job, run: r.run };
  });
}
