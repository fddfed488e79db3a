/*
 * Queues the job of recovery as data arrives, once per batching window: the
 * worker's listener calls it on each idgap_arrivals notification, and its sweep
 * at start-up and every arrival_sweep_interval_ms (p_min_age_ms = the batching
 * delay) for what notifications missed: the worker was down, or add_job
 * returned null under contention (graphile/worker #580). The work lists are the
 * source of truth, so a lost call loses no work, only time until the sweep.
 *
 * Nothing is queued when queuing is off (ops.arrival_queuing_on), when no
 * change older than p_min_age_ms waits in ops.lead_changes,
 * ops.lead_insert_ranges or
 * ops.driver_changes, or when a recover_arrivals job is already waiting (not
 * yet locked): it will take the changes when it starts. Else one job through
 * ops.enqueue_job: task and job key recover_arrivals, in the serial queue of
 * full recovery runs (retry_identity_matching: never two at once), run_at now
 * plus arrival_batch_delay_ms, preserve_run_at (a burst does not push the run
 * back), trigger arrival. While a recover_arrivals job runs, this queues the
 * next one, which the queue holds until the running one ends.
 */
create or replace function ops.queue_arrivals(p_min_age_ms integer default 0)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  waiting_job_id bigint;
  queued_job_id bigint;
  oldest timestamptz := clock_timestamp() - make_interval(secs => greatest(coalesce(p_min_age_ms, 0), 0) / 1000.0);
begin
  if not ops.arrival_queuing_on() then
    return null;
  end if;
  if not exists (select 1 from ops.lead_changes as changes where changes.taken_at is null and changes.recorded_at <= oldest)
     and not exists (select 1 from ops.lead_insert_ranges as ranges where ranges.recorded_at <= oldest)
     and not exists (select 1 from ops.driver_changes as changes where changes.taken_at is null and changes.recorded_at <= oldest) then
    return null;
  end if;
  select jobs.id into waiting_job_id
  from graphile_worker.jobs as jobs
  where jobs.key = 'recover_arrivals' and jobs.locked_at is null;
  if waiting_job_id is not null then
    return waiting_job_id;
  end if;
  select queued.job_id into queued_job_id
  from ops.enqueue_job('recover_arrivals', '{}'::jsonb, 'arrival',
                       p_queue => 'retry_identity_matching',
                       p_run_at => now() + make_interval(secs => greatest(coalesce(ops.setting_integer('arrival_batch_delay_ms'), 1000), 0) / 1000.0))
       as queued;
  return queued_job_id;
end
$$;
comment on function ops.queue_arrivals(integer) is 'Queues one recover_arrivals job (job key recover_arrivals, queue retry_identity_matching, run_at now + arrival_batch_delay_ms, preserve_run_at, trigger arrival) when queuing is on and a change older than p_min_age_ms waits in the work lists, unless one is already waiting; returns its id, or null when nothing was queued. Called by the worker''s arrivals listener and sweep, and by idgap import after a load.';
