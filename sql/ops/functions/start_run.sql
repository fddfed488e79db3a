create or replace function ops.start_run(p_task text, p_trigger text, p_params jsonb, p_worker_job_id bigint default null)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  run_id bigint;
begin
  insert into ops.job_runs (task, trigger, params, worker_job_id)
  values (p_task, ops.run_trigger(p_trigger, p_worker_job_id), coalesce(p_params, '{}'), p_worker_job_id)
  returning id into run_id;
  /* Held by this session until ops.finish_run or the connection ends: see ops.fail_abandoned_runs. */
  perform pg_advisory_lock(ops.run_lock_key(run_id));
  return run_id;
end
$$;
comment on function ops.start_run(text, text, jsonb, bigint) is 'Opens a run in the ledger (state running; a worker job''s trigger is cron, the one ops.enqueue_job recorded, or sql), takes the run''s session advisory lock, and returns its id. Call ops.finish_run on the same connection.';
