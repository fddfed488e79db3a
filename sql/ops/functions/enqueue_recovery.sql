/*
 * Queue a recovery from psql. The arguments are checked here, before anything
 * is queued, with the same rules as the task's payload schema, so a typo fails
 * at the prompt instead of as a rejected run later. The job key is the one the
 * crontab and the API use (ops.enqueue_job: key and serial queue retry_identity_matching, trigger sql): while a recovery is
 * waiting to run, another call updates that job (its payload, not its run_at)
 * and returns the same id instead of queueing a second run.
 */
create or replace function ops.enqueue_recovery(
  p_limit integer default null,
  p_risk_level text default null,
  p_gap_reason text default null)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  job_id bigint;
begin
  if p_limit is not null and p_limit not between 1 and 10000000 then
    raise exception 'p_limit must be between 1 and 10000000 (got %)', p_limit
      using errcode = 'invalid_parameter_value', hint = 'Pass null for no limit.';
  end if;
  if p_risk_level is not null and p_risk_level not in ('high', 'medium', 'low') then
    raise exception 'p_risk_level must be high, medium or low (got %)', p_risk_level
      using errcode = 'invalid_parameter_value', hint = 'Pass null for every risk level.';
  end if;
  if p_gap_reason is not null and p_gap_reason not in ('no_identity', 'no_origin', 'inconsistent_origin') then
    raise exception 'p_gap_reason must be no_identity, no_origin or inconsistent_origin (got %)', p_gap_reason
      using errcode = 'invalid_parameter_value', hint = 'Pass null for every gap reason.';
  end if;
  select queued.job_id
    into job_id
    from ops.enqueue_job(
           'retry_identity_matching',
           jsonb_strip_nulls(jsonb_build_object('limit', p_limit, 'risk_level', p_risk_level, 'gap_reason', p_gap_reason)),
           'sql') as queued;
  return job_id;
end
$$;
comment on function ops.enqueue_recovery(integer, text, text) is 'Queues a retry_identity_matching job (Graphile Worker) for up to p_limit leads of the given risk level and gap reason (null: any) and returns the job id. Shares the crontab''s job key, so a recovery already waiting is updated rather than duplicated. Example: select ops.enqueue_recovery(100, ''high'', null);';
