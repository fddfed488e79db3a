/*
 * A run holds a session advisory lock on its id for as long as its process
 * lives (ops.start_run takes it). A running run whose lock no session holds has
 * no process any more (killed, crashed, connection lost): mark it failed so the
 * ledger and the freshness checks do not wait for it forever.
 */
create or replace function ops.fail_abandoned_runs()
returns integer
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  n integer;
begin
  update ops.job_runs as runs
  set state = 'failed',
      finished_at = clock_timestamp(),
      duration_ms = (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint,
      error = 'abandoned: the process running it stopped before it finished'
  where runs.state = 'running'
    and not exists (
      select 1
      from pg_catalog.pg_locks as locks
      where locks.locktype = 'advisory' and locks.granted and locks.objsubid = 1
        and locks.database = (select oid from pg_catalog.pg_database where datname = current_database())
        and locks.classid::bigint = (ops.run_lock_key(runs.id) >> 32) & 4294967295
        and locks.objid::bigint = ops.run_lock_key(runs.id) & 4294967295);
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function ops.fail_abandoned_runs() is 'Marks failed every running run whose process is gone (its advisory lock is free); returns how many.';
