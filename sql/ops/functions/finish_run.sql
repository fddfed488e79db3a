create or replace function ops.finish_run(p_run_id bigint, p_state text, p_stats jsonb default '{}', p_error text default null)
returns ops.job_runs
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  result ops.job_runs;
begin
  if p_state not in ('succeeded', 'failed', 'rejected') then
    raise exception 'a run finishes succeeded, failed or rejected (got %)', p_state using errcode = 'invalid_parameter_value';
  end if;
  update ops.job_runs as runs
  set state = p_state,
      finished_at = clock_timestamp(),
      duration_ms = (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint,
      stats = runs.stats || coalesce(p_stats, '{}'),
      error = p_error
  where runs.id = p_run_id and runs.state = 'running'
  returning runs.* into result;
  if result.id is null then
    raise exception 'run % is not running', p_run_id using errcode = 'no_data_found';
  end if;
  delete from ops.recovery_queue as queue where queue.run_id = p_run_id;
  /* Releases the lock ops.start_run took on this session (false, with a warning, from another session). */
  perform pg_advisory_unlock(ops.run_lock_key(p_run_id));
  return result;
end
$$;
comment on function ops.finish_run(bigint, text, jsonb, text) is 'Closes a running run: succeeded, failed or rejected, with its duration, extra stats and error; clears its queue and releases its lock.';
