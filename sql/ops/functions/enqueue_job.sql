/*
 * Queues a task under a job key, in the key's named queue, so that requests
 * (API, cron, psql) never start two runs of the same work at once:
 * - a job with the key is waiting: Graphile updates it in place (its run_at is
 *   kept, its payload becomes the new one) and no second job appears;
 * - a job with the key is running (locked): Graphile takes the key off it and
 *   adds a new job, which the named queue holds until the running one ends.
 * The advisory lock serialises concurrent callers so "what was there before"
 * is read consistently with what add_job then does.
 */
create or replace function ops.enqueue_job(p_task text, p_payload jsonb, p_job_key text)
returns table (job_id bigint, already_queued boolean, running_job_id bigint)
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  existing record;
  added record;
begin
  perform pg_advisory_xact_lock(hashtextextended('idgap.enqueue:' || p_job_key, 0));
  select jobs.id, jobs.locked_at, jobs.attempts, jobs.max_attempts
    into existing
    from graphile_worker.jobs as jobs
   where jobs.key = p_job_key;
  select new_job.id
    into added
    from graphile_worker.add_job(p_task, p_payload::json, queue_name => p_job_key, job_key => p_job_key,
                                 job_key_mode => 'preserve_run_at') as new_job;
  job_id := added.id;
  already_queued := existing.id is not null and existing.id = added.id;
  running_job_id := case when existing.id is not null and existing.locked_at is not null then existing.id end;
  return next;
end
$$;
comment on function ops.enqueue_job(text, jsonb, text) is 'Queues p_task with p_payload under job key p_job_key (also its serial queue, mode preserve_run_at). Returns the job id, whether a waiting job with that key was reused, and the id of the job with that key already running (the new job waits for it).';
