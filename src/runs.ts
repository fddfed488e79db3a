import type pg from 'pg';
import { z } from 'zod';
import type { JobHelpers } from 'graphile-worker';
import type { Log } from './log.js';
import { isConnectionError } from './recovery.js';

import type { Trigger } from './payloads.js';

/**
 * Who asked for a job, as far as the payload can tell: Graphile's crontab adds
 * `_cron` (cron); anything else is `sql`. The payload never names `api` or
 * `cli`: ops.start_run / ops.reject_run record, through ops.run_trigger, the
 * trigger ops.enqueue_job recorded for the job (ops.job_triggers), which only
 * that security-definer function writes. A `_trigger` key (how earlier versions
 * marked API jobs) is taken off and ignored, so a payload cannot spoof the
 * ledger's trigger.
 */
export function splitPayload(payload: unknown): { trigger: Trigger; body: unknown; claimedTrigger?: unknown } {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { trigger: 'sql', body: payload };
  const { _cron, _trigger, ...body } = payload as Record<string, unknown>;
  return { trigger: _cron !== undefined ? 'cron' : 'sql', body, ...(_trigger !== undefined ? { claimedTrigger: _trigger } : {}) };
}

/** One line a person can read from a zod error: "limit: must be at least 1; risk_level: …". */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export interface RunContext {
  runId: number;
  client: pg.PoolClient;
  log: Log;
  trigger: Trigger;
}

export interface RunOutcome {
  stats?: Record<string, unknown>;
}

export class PayloadRejected extends Error {
  constructor(
    message: string,
    readonly runId: number,
  ) {
    super(message);
    this.name = 'PayloadRejected';
  }
}

/**
 * The ledger around a task body: validate the payload (an invalid one is a
 * `rejected` run and is not retried), open the run on a dedicated connection
 * (which holds the run's advisory lock), run the body, close the run as
 * succeeded or failed. A failure is rethrown so Graphile Worker can retry it.
 */
/** Lends one connection for the whole run: a pool's, or Graphile's `helpers.withPgClient`. */
export type WithClient = <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

export function poolClient(pool: pg.Pool): WithClient {
  return async (fn) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('08') || /Connection terminated/.test((e as Error).message)) broken = e as Error;
      throw e;
    } finally {
      client.release(broken);
    }
  };
}

export async function withRun<S extends z.ZodType>(
  withClient: WithClient,
  opts: { task: string; schema: S; payload: unknown; trigger?: Trigger; workerJobId?: string | number | null; log: Log },
  body: (params: z.infer<S>, ctx: RunContext) => Promise<RunOutcome | void>,
): Promise<{ runId: number; state: 'succeeded' | 'rejected' }> {
  const split = splitPayload(opts.payload);
  const trigger = opts.trigger ?? split.trigger;
  if (split.claimedTrigger !== undefined) {
    opts.log.warn({ event: 'run.trigger_ignored', task: opts.task, claimed: split.claimedTrigger }, `${opts.task}: the payload's _trigger is ignored (the ledger's trigger comes from ops.enqueue_job)`);
  }
  const workerJobId = opts.workerJobId == null ? null : String(opts.workerJobId);
  /* A JSON null payload is refused like any other non-object (Graphile stores an omitted payload as {}). */
  const parsed = opts.schema.safeParse(split.body === undefined ? {} : split.body);
  if (!parsed.success) {
    const message = clip(`invalid payload for ${opts.task}: ${describeZodError(parsed.error)}`, 2000);
    const { rows } = await withClient((client) =>
      client.query<{ id: string }>('select ops.reject_run($1, $2, $3, $4, $5) as id', [
        opts.task,
        trigger,
        storedPayload(split.body ?? null),
        workerJobId,
        message,
      ]),
    );
    const runId = Number(rows[0]!.id);
    opts.log.warn({ event: 'run.rejected', task: opts.task, run_id: runId, trigger, error: message }, message);
    return { runId, state: 'rejected' };
  }
  const params = parsed.data as z.infer<S>;
  return withClient(async (client) => {
  /* A killed process leaves its backend running the statement in flight (and holding the run's lock) until the
     statement ends; this makes PostgreSQL (14+) notice the vanished client within a second and abort it. */
  await client.query(`set client_connection_check_interval = '1s'`).catch(() => undefined);
  /* A checked-out client whose server goes away between two statements emits 'error'; unhandled, that kills the
     process. The next query on it fails anyway (the run then fails), so the event only needs a listener. */
  let connectionError: string | undefined;
  const onClientError = (e: Error) => {
    connectionError ??= e.message;
  };
  client.on('error', onClientError);
  try {
  let runId = 0;
  const started = Date.now();
  {
    const { rows } = await client.query<{ id: string }>('select ops.start_run($1, $2, $3, $4) as id', [
      opts.task,
      trigger,
      JSON.stringify(params ?? {}),
      workerJobId,
    ]);
    runId = Number(rows[0]!.id);
    const log = opts.log.child({ task: opts.task, run_id: runId });
    log.info({ event: 'run.started', trigger, params }, `${opts.task} run ${runId} started (${trigger})`);
    try {
      const outcome = (await body(params, { runId, client, log, trigger })) ?? {};
      await client.query('select ops.finish_run($1, $2, $3, null)', [runId, 'succeeded', JSON.stringify(outcome.stats ?? {})]);
      log.info({ event: 'run.succeeded', duration_ms: Date.now() - started }, `${opts.task} run ${runId} succeeded`);
      return { runId, state: 'succeeded' };
    } catch (e) {
      /* "not queryable" says little: keep the server's own reason when the connection reported one. */
      const message = connectionError && !(e as Error).message.includes(connectionError) ? `${(e as Error).message}: ${connectionError}` : (e as Error).message;
      await client.query('rollback').catch(() => undefined);
      await client
        .query('select ops.finish_run($1, $2, $3, $4)', [runId, 'failed', '{}', message])
        .catch(async (finishError: Error) => {
          if (!isConnectionError(finishError)) {
            log.error({ event: 'run.ledger_error', error: finishError.message }, 'could not record the failed run');
            return;
          }
          /* The run's connection is gone (server restart, network): record the failure, with its cause, on a fresh
             connection once the server answers again (a few tries); failing that, the next sweep marks it abandoned. */
          for (let attempt = 1; attempt <= 5; attempt++) {
            await new Promise((r) => setTimeout(r, 500 * attempt));
            try {
              await withClient((fresh) => fresh.query('select ops.finish_run($1, $2, $3, $4)', [runId, 'failed', '{}', message]));
              log.warn({ event: 'run.ledger_recovered', attempt }, 'failed run recorded on a new connection');
              return;
            } catch (retryError) {
              if ((retryError as { code?: string }).code === 'P0002') return; // swept meanwhile: already failed (abandoned)
            }
          }
          log.error({ event: 'run.ledger_error', error: finishError.message }, 'could not record the failed run; the next sweep marks it abandoned');
        });
      log.error({ event: 'run.failed', duration_ms: Date.now() - started, error: message }, `${opts.task} run ${runId} failed: ${message}`);
      throw e;
    }
  }
  } finally {
    client.off('error', onClientError);
    if (connectionError) opts.log.warn({ event: 'run.connection_lost', task: opts.task, error: connectionError }, `the run's database connection was lost: ${connectionError}`);
  }
  });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The rejected payload as the ledger keeps it: a huge one is replaced by its size, so a bad job cannot bloat ops.job_runs. */
function storedPayload(value: unknown): string {
  const json = safeJson(value);
  return json.length <= 16_384 ? json : JSON.stringify({ _truncated: true, bytes: json.length });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return 'null';
  }
}

/** The worker job id, for the ledger. */
export function jobIdOf(helpers: JobHelpers): string {
  return String(helpers.job.id);
}
