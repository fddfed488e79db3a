/*
 * The one way the project's callers queue a job (the API through
 * ops.enqueue_from_api, psql through ops.enqueue_recovery). Security definer:
 * it runs with its owner's rights on graphile_worker, so its callers need none
 * (idgap_api has no right in graphile_worker at all). The payload is checked
 * here, before anything is queued: a JSON object of at most 8 kB whose keys do
 * not start with `_` (Graphile's `_cron` and the retired `_trigger` are
 * reserved). The trigger is recorded in ops.job_triggers, the only source the
 * worker trusts for ops.job_runs.trigger.
 *
 * The task is queued under a job key equal to its name, in the serial queue of
 * that name unless p_queue names another (recover_arrivals shares the queue of
 * retry_identity_matching: never two recovery runs at once), at p_run_at (null:
 * now), so requests (API, cron, psql, arrivals) never start two runs of the
 * same work at once:
 * - a job with the key is waiting: Graphile updates it in place (its run_at is
 *   kept, its payload becomes the new one) and no second job appears;
 * - a job with the key is running (locked): Graphile takes the key off it and
 *   adds a new job, which the named queue holds until the running one ends.
 * The advisory lock serialises concurrent callers so "what was there before"
 * is read consistently with what add_job then does.
 */
create or replace function ops.enqueue_job(p_task text, p_payload jsonb, p_trigger text,
                                           p_queue text default null, p_run_at timestamptz default null)
returns table (job_id bigint, already_queued boolean, running_job_id bigint)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  existing record;
  added record;
begin
  if p_task is null or p_task !~ '^[a-z][a-z_]{0,62}$' then
    raise exception 'p_task must be a task identifier (lower-case letters and _), got %', coalesce(p_task, 'null')
      using errcode = 'invalid_parameter_value';
  end if;
  if p_trigger is null or p_trigger not in ('sql', 'cli', 'api', 'arrival') then
    raise exception 'p_trigger must be sql, cli, api or arrival (got %)', coalesce(p_trigger, 'null')
      using errcode = 'invalid_parameter_value';
  end if;
  if p_queue is not null and p_queue !~ '^[a-z][a-z_]{0,62}$' then
    raise exception 'p_queue must be a queue name (lower-case letters and _), got %', p_queue
      using errcode = 'invalid_parameter_value';
  end if;
  if p_payload is null or jsonb_typeof(p_payload) <> 'object' then
    raise exception 'the payload of % must be a JSON object (got %)', p_task, coalesce(jsonb_typeof(p_payload), 'null')
      using errcode = 'invalid_parameter_value';
  end if;
  if octet_length(p_payload::text) > 8192 then
    raise exception 'the payload of % is % bytes; at most 8192 are accepted', p_task, octet_length(p_payload::text)
      using errcode = 'invalid_parameter_value';
  end if;
  if exists (select 1 from jsonb_object_keys(p_payload) as keys (key) where keys.key like '\_%') then
    raise exception 'the payload of % has a key starting with _ (reserved for Graphile Worker)', p_task
      using errcode = 'invalid_parameter_value';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('idgap.enqueue:' || p_task, 0));
  select jobs.id, jobs.locked_at
    into existing
    from graphile_worker.jobs as jobs
   where jobs.key = p_task;
  select new_job.id
    into added
    from graphile_worker.add_job(p_task, p_payload::json, queue_name => coalesce(p_queue, p_task), run_at => p_run_at,
                                 job_key => p_task, job_key_mode => 'preserve_run_at') as new_job;
  insert into ops.job_triggers as triggers (job_id, trigger)
  values (added.id, p_trigger)
  on conflict on constraint job_triggers_pkey do update set trigger = excluded.trigger, recorded_at = now();
  delete from ops.job_triggers as triggers where triggers.recorded_at < now() - interval '30 days';

  job_id := added.id;
  already_queued := existing.id is not null and existing.id = added.id;
  running_job_id := case when existing.id is not null and existing.locked_at is not null then existing.id end;
  return next;
end
$$;
comment on function ops.enqueue_job(text, jsonb, text, text, timestamptz) is 'Queues p_task with p_payload (a JSON object, at most 8 kB, no key starting with _) under job key p_task, in serial queue p_queue (null: p_task), to run at p_run_at (null: now; mode preserve_run_at), and records p_trigger (sql, cli, api or arrival) in ops.job_triggers. Security definer: callers need no right in graphile_worker. Returns the job id, whether a waiting job with that key was reused, and the id of the job with that key already running (the new job waits for it).';
