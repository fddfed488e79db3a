import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { recoveryParamsSchema, refreshParamsSchema, runState, wholeNumber } from '../../payloads.js';
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
 * A job's status is one view (ops.v_job_status: the queue while Graphile holds
 * the job, the ledger after); the API adds the job's queue fields and its run.
 */
const JOB_SQL = `
select status.job_id, status.status, status.run_id, status.in_queue,
       jsonb_build_object(
         'id', status.job_id, 'task', status.task, 'queue_name', status.queue, 'key', status.job_key, 'run_at', status.run_at,
         'attempts', status.attempts, 'max_attempts', status.max_attempts, 'last_error', status.last_error,
         'locked_at', status.locked_at, 'created_at', status.created_at, 'updated_at', status.updated_at) as job,
       (select ${RUN_JSON} from ops.job_runs as runs where runs.id = status.run_id) as run
from ops.v_job_status as status
where status.job_id = $1::bigint`;

interface Queued {
  job_id: string;
  already_queued: boolean;
  running_job_id: string | null;
}

/**
 * Queues `task` under its own job key and serial queue through ops.enqueue_from_api (security definer; the API's
 * role has no right in graphile_worker): at most one waiting and one running; the run's trigger is recorded as api.
 */
async function enqueue(pool: ApiOptions['pool'], task: 'retry_identity_matching' | 'refresh_drivers_index', payload: Record<string, unknown>): Promise<Queued> {
  const { rows } = await pool.query<Queued>('select * from ops.enqueue_from_api($1, $2::jsonb)', [task, JSON.stringify(payload)]);
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
    parseParams(refreshParamsSchema, req.query);
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
    const { rows } = await pool.query<{ status: string; run_id: string | null; in_queue: boolean; job: unknown; run: unknown }>(JOB_SQL, [job_id]);
    const r = rows[0];
    if (r === undefined) throw notFound(`job ${job_id} is neither queued nor recorded in the run ledger`);
    return { job_id: Number(job_id), status: r.status, run_id: r.run_id === null ? null : Number(r.run_id), job: r.in_queue ? r.job : null, run: r.run ?? null };
  });
}
