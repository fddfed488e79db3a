/*
 * Is recovery running? Measured from the run ledger (ops.job_runs), never from
 * the last attempt on a lead. STALE uses the same setting as the
 * job_freshness health check (alert_job_stale_hours), so the two never disagree.
 */
create or replace view ops.v_diag_freshness as
with settings as (
  select ops.setting_integer('alert_job_stale_hours') as stale_hours
),
recovery_runs as (
  select runs.id, runs.state, runs.started_at, runs.finished_at, runs.matched, runs.processed, runs.error
  from ops.job_runs as runs
  where runs.task = 'retry_identity_matching'
),
last_success as (
  select recovery_runs.id, recovery_runs.finished_at
  from recovery_runs
  where recovery_runs.state = 'succeeded'
  order by recovery_runs.finished_at desc, recovery_runs.id desc
  limit 1
),
last_run as (
  select recovery_runs.id, recovery_runs.state, recovery_runs.started_at, recovery_runs.error
  from recovery_runs
  order by recovery_runs.started_at desc, recovery_runs.id desc
  limit 1
),
last_24h as (
  select count(*)::integer as runs,
         (count(*) filter (where recovery_runs.state = 'succeeded'))::integer as succeeded,
         (count(*) filter (where recovery_runs.state in ('failed', 'rejected')))::integer as failed,
         (count(*) filter (where recovery_runs.state = 'running'))::integer as running,
         coalesce(sum(recovery_runs.matched), 0)::integer as matched,
         coalesce(sum(recovery_runs.processed), 0)::integer as processed
  from recovery_runs
  where recovery_runs.started_at >= now() - interval '24 hours'
),
measured as (
  select last_success.id as last_success_run_id,
         last_success.finished_at as last_success_at,
         round((extract(epoch from now() - last_success.finished_at) / 3600)::numeric, 2) as hours_since_last_success,
         settings.stale_hours
  from settings
  left join last_success on true
)
select measured.last_success_run_id,
       measured.last_success_at,
       measured.hours_since_last_success,
       last_24h.runs as runs_24h,
       last_24h.succeeded as succeeded_runs_24h,
       last_24h.failed as failed_runs_24h,
       last_24h.running as running_now,
       last_24h.matched as matched_24h,
       last_24h.processed as processed_24h,
       last_run.id as last_run_id,
       last_run.state as last_run_state,
       last_run.started_at as last_run_started_at,
       last_run.error as last_run_error,
       measured.stale_hours::numeric as stale_threshold_hours,
       case when measured.last_success_at is null then 'NEVER'
            when measured.last_success_at < now() - make_interval(hours => measured.stale_hours) then 'STALE'
            else 'OK' end as status
from measured
cross join last_24h
left join last_run on true;
comment on view ops.v_diag_freshness is 'One row: freshness of retry_identity_matching from the run ledger: last successful run, runs and matches in the last 24 h, hours since the last success, and status OK / STALE / NEVER.';
comment on column ops.v_diag_freshness.last_success_run_id is 'ops.job_runs.id of the last succeeded retry_identity_matching run (null: never).';
comment on column ops.v_diag_freshness.last_success_at is 'When that run finished.';
comment on column ops.v_diag_freshness.hours_since_last_success is 'Hours from then to now, 2 decimals (null: never).';
comment on column ops.v_diag_freshness.runs_24h is 'retry_identity_matching runs started in the last 24 h, any state.';
comment on column ops.v_diag_freshness.succeeded_runs_24h is 'Of them, succeeded.';
comment on column ops.v_diag_freshness.failed_runs_24h is 'Of them, failed or rejected (read last_run_error).';
comment on column ops.v_diag_freshness.running_now is 'Of them, still running.';
comment on column ops.v_diag_freshness.matched_24h is 'Leads matched or repaired by those runs.';
comment on column ops.v_diag_freshness.processed_24h is 'Leads processed by those runs.';
comment on column ops.v_diag_freshness.last_run_id is 'ops.job_runs.id of the most recently started retry_identity_matching run, whatever its state.';
comment on column ops.v_diag_freshness.last_run_state is 'Its state: running, succeeded, failed or rejected.';
comment on column ops.v_diag_freshness.last_run_started_at is 'When it started.';
comment on column ops.v_diag_freshness.last_run_error is 'Its error message, when it failed or was rejected.';
comment on column ops.v_diag_freshness.stale_threshold_hours is 'The alert_job_stale_hours setting (24 by default).';
comment on column ops.v_diag_freshness.status is 'NEVER (no run ever succeeded), STALE (the last success is older than stale_threshold_hours) or OK.';
