/*
 * Work done in the last 24 h, per task, from the run ledger. The four tasks
 * of the worker always have a row (zeros when they did not run: a silent
 * task is exactly what an operator needs to see); any other task seen in the
 * ledger gets a row too.
 */
create or replace view ops.v_diag_volume_24h as
with known_tasks as (
  select known.task
  from (values ('retry_identity_matching'), ('refresh_drivers_index'), ('snapshot_identity_gap'), ('check_identity_gap_alerts')) as known (task)
),
recent_runs as (
  select runs.task, runs.state, runs.processed, runs.matched, runs.failed, runs.pending, runs.skipped, runs.duration_ms
  from ops.job_runs as runs
  where runs.started_at >= now() - interval '24 hours'
),
tasks as (
  select known_tasks.task from known_tasks
  union
  select distinct recent_runs.task from recent_runs
)
select tasks.task,
       count(recent_runs.task)::integer as runs,
       (count(*) filter (where recent_runs.state = 'succeeded'))::integer as succeeded,
       (count(*) filter (where recent_runs.state = 'failed'))::integer as failed_runs,
       (count(*) filter (where recent_runs.state = 'rejected'))::integer as rejected,
       (count(*) filter (where recent_runs.state = 'running'))::integer as running,
       coalesce(sum(recent_runs.processed), 0)::integer as processed,
       coalesce(sum(recent_runs.matched), 0)::integer as matched,
       coalesce(sum(recent_runs.failed), 0)::integer as failed,
       coalesce(sum(recent_runs.pending), 0)::integer as pending,
       coalesce(sum(recent_runs.skipped), 0)::integer as skipped,
       coalesce(sum(recent_runs.duration_ms), 0)::bigint as duration_ms,
       case when coalesce(sum(recent_runs.duration_ms), 0) = 0 then null
            else round(1000.0 * coalesce(sum(recent_runs.processed), 0) / sum(recent_runs.duration_ms), 1) end as leads_per_second
from tasks
left join recent_runs on recent_runs.task = tasks.task
group by tasks.task;
comment on view ops.v_diag_volume_24h is 'One row per task (the four worker tasks always, plus any other task in the ledger): runs started in the last 24 h and the leads they processed.';
comment on column ops.v_diag_volume_24h.task is 'Task identifier.';
comment on column ops.v_diag_volume_24h.runs is 'Runs started in the last 24 h, any state.';
comment on column ops.v_diag_volume_24h.succeeded is 'Of them, succeeded.';
comment on column ops.v_diag_volume_24h.failed_runs is 'Of them, failed (an error; Graphile Worker retries them).';
comment on column ops.v_diag_volume_24h.rejected is 'Of them, rejected (invalid payload; not retried).';
comment on column ops.v_diag_volume_24h.running is 'Of them, still running.';
comment on column ops.v_diag_volume_24h.processed is 'Leads processed (recovery runs; 0 for other tasks).';
comment on column ops.v_diag_volume_24h.matched is 'Leads linked or repaired.';
comment on column ops.v_diag_volume_24h.failed is 'Leads that ended failed.';
comment on column ops.v_diag_volume_24h.pending is 'Leads left pending for a retry.';
comment on column ops.v_diag_volume_24h.skipped is 'Leads already resolved when processed.';
comment on column ops.v_diag_volume_24h.duration_ms is 'Total duration of the finished runs, milliseconds.';
comment on column ops.v_diag_volume_24h.leads_per_second is 'processed / duration: the throughput (null when nothing finished).';
