/*
 * Fault isolation: when a batch fails, the runner splits it in halves until the
 * failing lead is alone, then calls this (in a fresh transaction) so that the
 * lead is recorded with reason ERROR and the database's message, counted as an
 * attempt with backoff like any other miss, and taken off the run's queue.
 */
create or replace function ops.record_lead_error(p_run_id bigint, p_seq integer, p_message text)
returns ops.identity_matching_jobs
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  max_attempts integer := ops.setting_integer('max_attempts');
  backoff_base integer := ops.setting_integer('retry_backoff_base_minutes');
  backoff_cap integer := ops.setting_integer('retry_backoff_cap_minutes');
  failing_lead text;
  result ops.identity_matching_jobs;
begin
  delete from ops.recovery_queue as queue
  where queue.run_id = p_run_id and queue.seq = p_seq
  returning queue.lead_id into failing_lead;
  if failing_lead is null then
    raise exception 'run % has no queued lead at seq %', p_run_id, p_seq using errcode = 'no_data_found';
  end if;

  insert into ops.identity_matching_jobs as jobs
    (source_table, source_id, status, attempt_count, last_attempt_at, fail_reason, fail_detail, last_run_id)
  values ('module_ct_cabinet_leads', failing_lead, 'pending', 1, now(), 'ERROR', left(p_message, 2000), p_run_id)
  on conflict (source_table, source_id) do update
  set attempt_count = jobs.attempt_count + 1,
      last_attempt_at = now(),
      fail_reason = 'ERROR',
      fail_detail = left(p_message, 2000),
      matched_person_key = null,
      match_rule = null,
      last_run_id = p_run_id,
      updated_at = now()
  returning jobs.* into result;

  /* Failed at max attempts, else pending with backoff: ops.job_after_miss, the rule the batches use. */
  update ops.identity_matching_jobs as jobs
  set status = after_miss.status,
      next_attempt_at = after_miss.next_attempt_at
  from ops.job_after_miss(result.attempt_count, max_attempts, backoff_base, backoff_cap) as after_miss
  where jobs.id = result.id
  returning jobs.* into result;

  update ops.job_runs as runs
  set processed = runs.processed + 1,
      failed = runs.failed + (result.status = 'failed')::integer,
      pending = runs.pending + (result.status = 'pending')::integer,
      stats = runs.stats || jsonb_build_object('errors', coalesce((runs.stats ->> 'errors')::integer, 0) + 1)
  where runs.id = p_run_id;
  return result;
end
$$;
comment on function ops.record_lead_error(bigint, integer, text) is 'Records the one lead a failing batch was narrowed down to: reason ERROR with the database message, an attempt with backoff; removes it from the run''s queue.';
