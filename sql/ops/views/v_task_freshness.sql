/*
 * Freshness of every task from the run ledger (never from the last attempt on
 * a lead): the last succeeded run and how long ago it ended. The status uses
 * the alert_job_stale_hours setting, the threshold of the job_freshness check.
 */
create or replace view ops.v_task_freshness as
with settings as (
  select ops.setting_integer('alert_job_stale_hours') as stale_hours
),
tasks as (
  select registered.identifier as task from graphile_worker._private_tasks as registered
  union
  select runs.task from ops.job_runs as runs
),
last_success as (
  select runs.task, max(runs.finished_at) as finished_at
  from ops.job_runs as runs
  where runs.state = 'succeeded'
  group by runs.task
),
last_day as (
  select runs.task,
         count(*)::integer as runs_24h,
         coalesce(sum(runs.matched), 0)::integer as matched_24h
  from ops.job_runs as runs
  where runs.started_at >= now() - interval '24 hours'
  group by runs.task
)
select tasks.task,
       last_success.finished_at as last_success_at,
       extract(epoch from now() - last_success.finished_at)::double precision as seconds_since_last_success,
       case
         when last_success.finished_at is null then 'NEVER'
         when last_success.finished_at < now() - make_interval(hours => settings.stale_hours) then 'STALE'
         else 'OK'
       end as freshness,
       settings.stale_hours,
       coalesce(last_day.runs_24h, 0) as runs_24h,
       coalesce(last_day.matched_24h, 0) as matched_24h
from tasks
cross join settings
left join last_success on last_success.task = tasks.task
left join last_day on last_day.task = tasks.task;
comment on view ops.v_task_freshness is 'One row per task (registered with the worker or in the ledger): its last succeeded run, and OK / STALE / NEVER against alert_job_stale_hours.';
comment on column ops.v_task_freshness.task is 'Task identifier.';
comment on column ops.v_task_freshness.last_success_at is 'finished_at of the last succeeded run; null if none.';
comment on column ops.v_task_freshness.seconds_since_last_success is 'Seconds since then; null if never.';
comment on column ops.v_task_freshness.freshness is 'NEVER (no succeeded run), STALE (older than stale_hours) or OK.';
comment on column ops.v_task_freshness.stale_hours is 'The threshold used (setting alert_job_stale_hours).';
comment on column ops.v_task_freshness.runs_24h is 'Runs started in the last 24 hours, any state.';
comment on column ops.v_task_freshness.matched_24h is 'Leads they matched (sum of ops.job_runs.matched).';
