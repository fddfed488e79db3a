/*
 * A reviewer's decision on a lead of the review queue and one candidate
 * driver, appended to ops.review_decisions with the candidate as the queue
 * showed it (ops.v_identity_review_queue).
 *
 * accept: the lead is linked to the driver's person with MANUAL_REVIEW (score
 * 100, HIGH: a person decided; migration 000014), the reviewer, the note and the
 * candidate as shown in the link's evidence ("review"). The write is the
 * recovery's own: the one-lead pg_temp.batch_leads / batch_decisions /
 * batch_new_persons tables the batch steps read are built here, and the steps
 * themselves run (ops.batch_register_new_persons, batch_driver_links,
 * batch_lead_links, batch_new_person_origins, batch_existing_origins,
 * batch_job_rows): a driver without a person gets one and its DRIVER_MATCH
 * link (SPEC 3.3), the origin is derived by the usual rule (a manual origin is
 * kept and the lead reported CONFLICTING_LINK, as a run would), and the job
 * row ends matched with MANUAL_REVIEW. No second copy of those rules.
 *
 * reject: the pair is never linked nor proposed again (ops.batch_find_candidates
 * drops the rejected pairs; its stored candidate row is deleted now).
 *
 * Refused, with a SQLSTATE a caller can map: a bad decision word, an empty
 * reviewer, a note too long (22023); an unknown lead or driver (P0002); a lead
 * that already has a link, since links are never re-pointed, or accepting a
 * pair that was rejected (55000); a recovery run in progress (55P03).
 *
 * The run-level lock: a decision takes ops.recovery_lock_key() for its
 * transaction, so it never interleaves with a run (which holds it on its
 * session for the whole run) nor with another decision. It waits at most the
 * setting review_lock_wait_ms, then is refused rather than blocking for the
 * length of a run.
 *
 * Security definer (pinned search_path): the API's role calls it without any
 * right on canon. Call it in its own transaction: the batch tables are dropped
 * at commit.
 */
create or replace function ops.review_decide(p_lead_id text, p_driver_id text, p_decision text, p_reviewer text, p_note text default null)
returns table (decision_id bigint, decision text, lead_id text, driver_id text, person_key uuid, person_created boolean, link_id bigint,
               job_status text, origin_source_id text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set client_min_messages = warning
as $$
#variable_conflict use_column
declare
  v_decision text := lower(btrim(p_decision));
  v_reviewer text := btrim(p_reviewer);
  v_note text := nullif(btrim(p_note), '');
  wait_ms integer := coalesce(ops.setting_integer('review_lock_wait_ms'), 3000);
  old_lock_timeout text := current_setting('lock_timeout');
  v_lead_pk bigint;
  v_linked_person uuid;
  v_driver_person uuid;
  v_person uuid;
  v_created boolean := false;
  v_shown jsonb;
  v_decision_id bigint;
  v_review jsonb;
  v_rule_score integer;
  v_rule_confidence text;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';

  if v_decision is null or v_decision not in ('accept', 'reject') then
    raise exception 'decision must be accept or reject (got %)', coalesce(p_decision, 'null') using errcode = '22023';
  end if;
  if v_reviewer is null or v_reviewer = '' then
    raise exception 'a reviewer is required: who decides' using errcode = '22023';
  end if;
  if length(v_reviewer) > 200 then
    raise exception 'reviewer: at most 200 characters' using errcode = '22023';
  end if;
  if length(v_note) > 2000 then
    raise exception 'note: at most 2000 characters' using errcode = '22023';
  end if;

  /* The run-level lock, waited for at most wait_ms (lock_timeout applies to advisory locks too). */
  perform set_config('lock_timeout', wait_ms::text, true);
  begin
    perform pg_advisory_xact_lock(ops.recovery_lock_key());
  exception when lock_not_available then
    raise exception 'a recovery run is in progress, try again' using errcode = '55P03',
      hint = format('the recovery lock was not free within %s ms (setting review_lock_wait_ms); a decision waits for the run to end', wait_ms);
  end;
  perform set_config('lock_timeout', old_lock_timeout, true);

  select cabinet_leads.id into v_lead_pk
  from public.module_ct_cabinet_leads as cabinet_leads
  where coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = p_lead_id
  order by (cabinet_leads.external_id is not null) desc
  limit 1;
  if v_lead_pk is null then
    raise exception 'lead % does not exist', coalesce(p_lead_id, 'null') using errcode = 'P0002';
  end if;
  if not exists (select 1 from public.drivers as drivers where drivers.driver_id = p_driver_id) then
    raise exception 'driver % does not exist', coalesce(p_driver_id, 'null') using errcode = 'P0002';
  end if;

  select lead_links.person_key into v_linked_person
  from canon.identity_links as lead_links
  where lead_links.source_pk = p_lead_id and lead_links.source_table = 'module_ct_cabinet_leads';
  if v_linked_person is not null then
    raise exception 'lead % is already linked (person %): links are never re-pointed', p_lead_id, v_linked_person
      using errcode = '55000', hint = 'a linked lead is not in the review queue';
  end if;
  if v_decision = 'accept' and exists (select 1 from ops.review_decisions as decisions
                                       where decisions.lead_id = p_lead_id and decisions.driver_id = p_driver_id
                                         and decisions.decision = 'reject') then
    raise exception 'lead % and driver % were rejected as a pair: that pair is never linked', p_lead_id, p_driver_id using errcode = '55000';
  end if;

  /* The candidate as the queue shows it (none when the reviewer names a driver the queue does not hold). */
  select jsonb_build_object('in_queue', true, 'candidate_rank', queue.candidate_rank, 'match_rule', queue.match_rule, 'score', queue.score,
                            'queue_reason', queue.queue_reason, 'evidence', queue.evidence, 'run_id', queue.run_id,
                            'phone_agrees', queue.phone_agrees, 'plate_agrees', queue.plate_agrees,
                            'name_similarity', queue.name_similarity, 'days_after_hire', queue.days_after_hire)
  into v_shown
  from ops.v_identity_review_queue as queue
  where queue.lead_id = p_lead_id and queue.driver_id = p_driver_id;
  v_shown := coalesce(v_shown, jsonb_build_object('in_queue', false));

  select driver_links.person_key into v_driver_person
  from canon.identity_links as driver_links
  where driver_links.source_pk = p_driver_id and driver_links.source_table = 'drivers';

  if v_decision = 'reject' then
    insert into ops.review_decisions (lead_id, driver_id, decision, reviewer, note, person_key, evidence)
    values (p_lead_id, p_driver_id, 'reject', v_reviewer, v_note, null, v_shown)
    returning id into v_decision_id;
    delete from ops.lead_candidates as candidates where candidates.lead_id = p_lead_id and candidates.driver_id = p_driver_id;
    return query select v_decision_id, v_decision, p_lead_id, p_driver_id, v_driver_person, false, null::bigint, null::text, null::text;
    return;
  end if;

  /* accept */
  v_created := v_driver_person is null;
  v_person := coalesce(v_driver_person, canon.uuid_v7());
  insert into ops.review_decisions (lead_id, driver_id, decision, reviewer, note, person_key, evidence)
  values (p_lead_id, p_driver_id, 'accept', v_reviewer, v_note, v_person, v_shown)
  returning id into v_decision_id;
  v_review := jsonb_build_object('decision_id', v_decision_id, 'reviewer', v_reviewer, 'note', v_note, 'shown', v_shown);
  select rules.score, rules.confidence_level into v_rule_score, v_rule_confidence from ops.match_rules as rules where rules.match_rule = 'MANUAL_REVIEW';

  /* The one lead as a batch of the recovery: the tables its write steps read. */
  drop table if exists pg_temp.batch_leads, pg_temp.batch_decisions, pg_temp.batch_new_persons, pg_temp.batch_origin_plan;
  create temp table batch_leads on commit drop as
  select 1 as seq, p_lead_id as lead_id, true as lead_found, cabinet_leads.lead_created_at, cabinet_leads.lead_created_at::date as lead_date,
         canon.norm_phone(cabinet_leads.park_phone, ops.setting_text('default_country_code')) as phone_norm,
         canon.norm_plate(cabinet_leads.asset_plate_number) as plate_norm,
         concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name) as lead_name,
         state.linked_person_key, state.origin_tag, state.origin_source_id, state.origin_decided_by, state.gap_reason,
         jobs.id as job_id, jobs.status as job_status, coalesce(jobs.attempt_count, 0) as job_attempts
  from public.module_ct_cabinet_leads as cabinet_leads
  cross join lateral ops.lead_gap_state(p_lead_id, true) as state
  left join ops.identity_matching_jobs as jobs
    on jobs.source_id = p_lead_id and jobs.source_table = 'module_ct_cabinet_leads'
  where cabinet_leads.id = v_lead_pk;

  create temp table batch_decisions on commit drop as
  select batch_leads.seq, batch_leads.lead_id, batch_leads.lead_created_at, batch_leads.linked_person_key, batch_leads.gap_reason,
         case when v_created then 'driver:' || p_driver_id else v_person::text end as named_person,
         null::integer as best_rule,
         json_build_object('MANUAL_REVIEW', json_build_object('verdict', 'accepted', 'decision_id', v_decision_id)) as rules,
         'LINK'::text as decision,
         json_build_object('phone_norm', batch_leads.phone_norm, 'plate_norm', batch_leads.plate_norm, 'lead_date', batch_leads.lead_date) as lead_keys,
         p_driver_id as matched_driver_id,
         null::text as finding_person,
         'MANUAL_REVIEW'::text as match_rule,
         v_rule_confidence as confidence_level,
         v_rule_score as match_score,
         v_person as person_key
  from pg_temp.batch_leads as batch_leads;

  /* The person to create, with the driver's keys for its registry row (as the batch reads them from the drivers index). */
  create temp table batch_new_persons on commit drop as
  select drivers.driver_id, v_person as person_key, v_rule_confidence as confidence_level, null::integer as best_rule,
         p_lead_id as lead_id,
         coalesce(driver_keys.phone_norm, canon.norm_phone(drivers.phone, ops.setting_text('default_country_code'))) as phone_norm,
         coalesce(driver_keys.license_norm, drivers.license_normalized_number) as license_norm,
         coalesce(driver_keys.name_norm, canon.norm_name(canon.driver_name(drivers.full_name, drivers.first_name, drivers.middle_name, drivers.last_name))) as name_norm
  from public.drivers as drivers
  left join canon.drivers_index as driver_keys on driver_keys.driver_id = drivers.driver_id
  where drivers.driver_id = p_driver_id and v_created;

  perform ops.batch_register_new_persons();
  perform ops.batch_driver_links(null);
  perform ops.batch_lead_links(null, ops.setting_text('target_park_id'));
  perform ops.batch_new_person_origins(null);
  perform ops.batch_existing_origins(null);
  perform ops.batch_job_rows(null, ops.setting_integer('max_attempts'), ops.setting_integer('retry_backoff_base_minutes'),
                             ops.setting_integer('retry_backoff_cap_minutes'));

  /* The review in both links' evidence; the driver's link names the rule that created its person, as a run's does. */
  update canon.identity_links as links
  set evidence = links.evidence || jsonb_build_object('review', v_review)
              || case when links.source_table = 'drivers' then jsonb_build_object('rule', 'MANUAL_REVIEW', 'lead_id', p_lead_id) else '{}'::jsonb end
  where (links.source_pk = p_lead_id and links.source_table = 'module_ct_cabinet_leads')
     or (v_created and links.source_pk = p_driver_id and links.source_table = 'drivers');

  /* The lead has left the queue: its stored candidates go, as a run deletes them for a lead it links. */
  delete from ops.lead_candidates as candidates where candidates.lead_id = p_lead_id;

  return query
    select v_decision_id, v_decision, p_lead_id, p_driver_id, v_person, v_created, lead_links.id, jobs.status, origins.origin_source_id
    from canon.identity_links as lead_links
    left join ops.identity_matching_jobs as jobs on jobs.source_id = p_lead_id and jobs.source_table = 'module_ct_cabinet_leads'
    left join canon.identity_origin as origins on origins.person_key = v_person
    where lead_links.source_pk = p_lead_id and lead_links.source_table = 'module_ct_cabinet_leads';
end
$$;
comment on function ops.review_decide(text, text, text, text, text) is 'A reviewer''s decision on a lead and a candidate driver (accept: link with MANUAL_REVIEW through the recovery''s write steps, person, origin and job row; reject: the pair is never linked nor proposed again), appended to ops.review_decisions. Refuses a linked lead, unknown ids, a bad decision or an empty reviewer; waits review_lock_wait_ms for the recovery lock. Security definer.';
