create or replace function ops.start_run(p_task text, p_trigger text, p_params jsonb, p_worker_job_id bigint default null)
returns bigint
language sql
volatile
set search_path = pg_catalog
as $$
  insert into ops.job_runs (task, trigger, params, worker_job_id)
  values (p_task, p_trigger, coalesce(p_params, '{}'), p_worker_job_id)
  returning id
$$;
comment on function ops.start_run(text, text, jsonb, bigint) is 'Opens a run in the ledger (state running) and returns its id.';
