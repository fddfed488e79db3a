create or replace function ops.finish_run(p_run_id bigint, p_state text, p_stats jsonb default '{}', p_error text default null)
returns ops.job_runs
language sql
volatile
set search_path = pg_catalog
as $$
  update ops.job_runs as runs
  set state = p_state,
      finished_at = clock_timestamp(),
      duration_ms = (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint,
      stats = runs.stats || coalesce(p_stats, '{}'),
      error = p_error
  where runs.id = p_run_id
  returning runs.*
$$;
comment on function ops.finish_run(bigint, text, jsonb, text) is 'Closes a run: succeeded, failed or rejected, with its duration, extra stats and error.';
