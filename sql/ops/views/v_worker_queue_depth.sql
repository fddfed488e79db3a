/*
 * Graphile Worker's queue by task and state, for /metrics. Every known task
 * (registered with the worker or present in the run ledger) gets all four
 * states, so a gauge drops to 0 instead of disappearing.
 * The states do not overlap: permanently_failed first (attempts used up, it
 * will never run again), then locked (running now), then retrying (failed at
 * least once, waiting for its next attempt), runnable for the rest.
 */
create or replace view ops.v_worker_queue_depth as
with jobs as (
  select queued.task_identifier as task,
         case
           when queued.attempts >= queued.max_attempts then 'permanently_failed'
           when queued.locked_at is not null then 'locked'
           when queued.attempts > 0 then 'retrying'
           else 'runnable'
         end as state
  from graphile_worker.jobs as queued
),
tasks as (
  select registered.identifier as task from graphile_worker._private_tasks as registered
  union
  select runs.task from ops.job_runs as runs
  union
  select jobs.task from jobs
),
states as (
  select state, state_order
  from (values ('runnable', 1), ('locked', 2), ('retrying', 3), ('permanently_failed', 4)) as known (state, state_order)
)
select tasks.task,
       states.state,
       (select count(*) from jobs where jobs.task = tasks.task and jobs.state = states.state)::integer as jobs
from tasks
cross join states
order by tasks.task, states.state_order;
comment on view ops.v_worker_queue_depth is 'One row per task and queue state (runnable, locked, retrying, permanently_failed): how many Graphile Worker jobs are in it.';
comment on column ops.v_worker_queue_depth.task is 'Task identifier.';
comment on column ops.v_worker_queue_depth.state is 'permanently_failed (attempts >= max_attempts), locked (running), retrying (attempts > 0, waiting), runnable (waiting for its first attempt).';
comment on column ops.v_worker_queue_depth.jobs is 'Jobs of the task in that state.';
