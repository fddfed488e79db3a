--! Previous: sha1:a7eedc135a831efabd4bbe14e1734427c42ae7d5
--! Hash: sha1:14c7d879cff195f81c9f0b5c89dd43a5bcdf16ea
--! Message: job triggers recorded by the enqueue function, and the ledger's index by worker job

/*
 * Who asked for a queued job, written only by ops.enqueue_job (security
 * definer, owned by the schema owner): the worker reads it when the job runs and
 * records it as ops.job_runs.trigger. A payload cannot set it: a `_trigger` key
 * in a payload is ignored, so a job queued with graphile_worker.add_job is
 * `sql` (or `cron` when Graphile's crontab queued it), whatever it claims.
 */
create table ops.job_triggers (
  job_id bigint primary key,
  trigger text not null check (trigger in ('sql', 'cli', 'api')),
  recorded_at timestamptz not null default now()
);
comment on table ops.job_triggers is 'One row per Graphile Worker job queued through ops.enqueue_job: who asked for it (the trusted source of ops.job_runs.trigger). Rows older than 30 days are pruned by ops.enqueue_job.';
comment on column ops.job_triggers.job_id is 'graphile_worker job id (the same id when a waiting job with the key is updated).';
comment on column ops.job_triggers.trigger is 'sql (ops.enqueue_recovery or another SQL caller), cli or api (the HTTP API through ops.enqueue_from_api).';
comment on column ops.job_triggers.recorded_at is 'When the job was queued or last updated through ops.enqueue_job.';

/* ops.v_job_status and the API's jobs/:id read a job's runs by worker job id. */
create index job_runs_worker_job_idx on ops.job_runs (worker_job_id) where worker_job_id is not null;
