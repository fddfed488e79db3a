/*
 * What the HTTP API's role (idgap_api) may queue, and nothing else: the two
 * tasks of its write endpoints, recorded with trigger `api`. The API validates
 * the parameters with the task's payload schema first (src/payloads.ts); this
 * function is the database's own limit on a role that faces a network, which
 * has no right in graphile_worker: it cannot choose another task, another
 * trigger, a job key, a queue, a priority or a run_at, nor touch other jobs.
 */
create or replace function ops.enqueue_from_api(p_task text, p_payload jsonb)
returns table (job_id bigint, already_queued boolean, running_job_id bigint)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_task is null or p_task not in ('retry_identity_matching', 'refresh_drivers_index') then
    raise exception 'the API queues retry_identity_matching or refresh_drivers_index only (got %)', coalesce(p_task, 'null')
      using errcode = 'insufficient_privilege';
  end if;
  return query
    select queued.job_id, queued.already_queued, queued.running_job_id
    from ops.enqueue_job(p_task, p_payload, 'api') as queued;
end
$$;
comment on function ops.enqueue_from_api(text, jsonb) is 'The HTTP API''s only way to queue work: retry_identity_matching or refresh_drivers_index with a checked payload, through ops.enqueue_job with trigger api. Security definer; granted to idgap_api alone.';
