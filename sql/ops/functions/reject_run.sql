create or replace function ops.reject_run(p_task text, p_trigger text, p_params jsonb, p_worker_job_id bigint, p_error text)
returns bigint
language sql
volatile
set search_path = pg_catalog
as $$
  insert into ops.job_runs (task, trigger, params, worker_job_id, state, finished_at, duration_ms, error)
  values (p_task, ops.run_trigger(p_trigger, p_worker_job_id), coalesce(p_params, '{}'), p_worker_job_id, 'rejected', now(), 0, p_error)
  returning id
$$;
comment on function ops.reject_run(text, text, jsonb, bigint, text) is 'Records a run that was refused before it started (invalid payload), with the validation message.';
