/*
 * A run holds a session advisory lock on its id for as long as its process
 * lives (ops.start_run takes it). A running run whose lock no session holds has
 * no process any more (killed, crashed, connection lost): mark it failed so the
 * ledger and the freshness checks do not wait for it forever.
 *
 * The Graphile job such a run was executing (ops.job_runs.worker_job_id) is
 * still locked by the dead worker, and Graphile would only retry it once the
 * lock is 4 hours old. Every worker slot has its own worker id and holds one
 * job at a time, so graphile_worker.force_unlock_workers (Graphile's public
 * API) on the ids that locked those jobs makes them runnable now. Only a lock
 * taken before the run started is released: a lock taken later belongs to a
 * live worker retrying the job, not to the dead one. A live worker whose
 * connection died finds the job unlocked when it reports the failure, and
 * Graphile's fail_jobs ignores it (it matches on locked_by).
 */
create or replace function ops.fail_abandoned_runs()
returns integer
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  n integer;
  dead_workers text[];
begin
  with abandoned as (
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
          and locks.objid::bigint = ops.run_lock_key(runs.id) & 4294967295)
    returning runs.worker_job_id, runs.started_at
  ),
  counted as (
    select count(*)::integer as runs_failed from abandoned
  ),
  stuck_jobs as (
    select distinct worker_jobs.locked_by
    from abandoned
    join graphile_worker.jobs as worker_jobs on worker_jobs.id = abandoned.worker_job_id
    where worker_jobs.locked_by is not null
      and worker_jobs.locked_at <= abandoned.started_at
  )
  select counted.runs_failed, (select array_agg(stuck_jobs.locked_by) from stuck_jobs)
  into n, dead_workers
  from counted;
  if dead_workers is not null then
    perform graphile_worker.force_unlock_workers(dead_workers);
  end if;
  return n;
end
$$;
comment on function ops.fail_abandoned_runs() is 'Marks failed every running run whose process is gone (its advisory lock is free) and unlocks the Graphile jobs those runs were executing, so they are retried now rather than after 4 hours; returns how many runs.';
