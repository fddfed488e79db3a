/*
 * Step 10 of ops.process_identity_batch, the job rows of the batch's decisions
 * (pg_temp.batch_decisions): attempts, and for a miss the status and backoff of
 * ops.job_after_miss (failed at max attempts), computed from the attempt
 * count the row had (read with the leads into pg_temp.batch_leads; 0 for a new
 * row). Existing rows are updated by id, new ones inserted plainly: no other
 * batch writes these rows (a run's batches take disjoint queue rows, and
 * ops.plan_recovery gives no lead to two running runs), and an upsert's
 * conflict check cost ~4 us a row. Returns the batch's counts.
 */
create or replace function ops.batch_job_rows(p_run_id bigint, max_attempts integer, backoff_base integer, backoff_cap integer,
  out processed integer, out matched integer, out failed integer, out pending integer, out skipped integer)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  with outcomes as (
    select decisions.lead_id, batch_leads.job_id, outcome.*,
           /* A retryable miss: failed at max attempts, else pending with backoff (ops.job_after_miss, the one rule). */
           case when outcome.retryable then after_miss.status else outcome.status end as new_status,
           batch_leads.job_attempts + outcome.attempts as attempt_count,
           case when outcome.retryable then after_miss.next_attempt_at end as next_attempt_at,
           case when decisions.decision in ('LINK', 'REPAIR') then decisions.person_key end as matched_person_key,
           case decisions.decision when 'LINK' then decisions.match_rule when 'REPAIR' then 'ORIGIN_REPAIR' end as match_rule,
           /* A lead found resolved keeps the row of the run that matched it (an earlier run). */
           not (outcome.status = 'skipped' and batch_leads.job_status = 'matched') as written
    from batch_decisions as decisions
    join batch_leads on batch_leads.lead_id = decisions.lead_id
    cross join lateral (
      select case decisions.decision
               when 'LINK' then 'matched' when 'REPAIR' then 'matched' when 'SKIP' then 'skipped'
               when 'LEAD_NOT_FOUND' then 'failed' else 'pending' end as status,
             case when decisions.decision = 'SKIP' then 0 else 1 end as attempts,
             /* A retryable miss: any reason but LEAD_NOT_FOUND counts against the attempts. */
             decisions.decision not in ('LINK', 'REPAIR', 'SKIP', 'LEAD_NOT_FOUND') as retryable,
             case when decisions.decision in ('LINK', 'REPAIR', 'SKIP') then null else decisions.decision end as fail_reason,
             case decisions.decision
               when 'CONFLICTING_LINK' then 'the lead or its person already has a link or origin that disagrees; not changed'
               when 'LEAD_NOT_FOUND' then 'the lead no longer exists in public.module_ct_cabinet_leads'
             end as fail_detail
    ) as outcome
    cross join lateral ops.job_after_miss(batch_leads.job_attempts + 1, max_attempts, backoff_base, backoff_cap) as after_miss
  ),
  updated as (
    update ops.identity_matching_jobs as jobs
    set status = outcomes.new_status,
        attempt_count = outcomes.attempt_count,
        last_attempt_at = now(),
        next_attempt_at = outcomes.next_attempt_at,
        fail_reason = outcomes.fail_reason,
        fail_detail = outcomes.fail_detail,
        matched_person_key = outcomes.matched_person_key,
        match_rule = outcomes.match_rule,
        last_run_id = p_run_id,
        updated_at = now()
    from outcomes
    where outcomes.job_id is not null and outcomes.written and jobs.id = outcomes.job_id
    returning jobs.status
  ),
  inserted as (
    insert into ops.identity_matching_jobs
      (source_table, source_id, status, attempt_count, last_attempt_at, next_attempt_at, fail_reason, fail_detail,
       matched_person_key, match_rule, last_run_id, created_at, updated_at)
    select 'module_ct_cabinet_leads', outcomes.lead_id, outcomes.new_status, outcomes.attempt_count, now(), outcomes.next_attempt_at,
           outcomes.fail_reason, outcomes.fail_detail, outcomes.matched_person_key, outcomes.match_rule, p_run_id, now(), now()
    from outcomes
    where outcomes.job_id is null
    order by outcomes.lead_id
    returning status
  ),
  written as (
    select updated.status from updated
    union all
    select inserted.status from inserted
  )
  /* A row left alone is a matched one: it counts as neither failed nor pending. */
  select (select count(*)::integer from batch_decisions),
         (select count(*)::integer from batch_decisions as decisions where decisions.decision in ('LINK', 'REPAIR')),
         (count(*) filter (where written.status = 'failed'))::integer,
         (count(*) filter (where written.status = 'pending'))::integer,
         (select count(*)::integer from batch_decisions as decisions where decisions.decision = 'SKIP')
  into processed, matched, failed, pending, skipped
  from written;
end
$$;
comment on function ops.batch_job_rows(bigint, integer, integer, integer) is 'Writes the job rows of the recovery batch''s decisions (pg_temp.batch_decisions) from the rows read with its leads (pg_temp.batch_leads); returns the batch''s counts. Internal: called inside the recovery batch transaction only.';
