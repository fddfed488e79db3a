/*
 * The recovery of one batch: the leads of ops.recovery_queue with
 * p_from_seq <= seq <= p_to_seq, in set-based statements (no loop over leads).
 *
 *   batch_leads       the leads, their normalised keys and their current gap state
 *   batch_candidates  drivers found by each rule, as persons, after the target-park filter
 *   batch_rules       one verdict per lead and rule: named person, ambiguous or weak
 *   batch_decisions   one decision per lead: link, repair, skip or a reason code
 *   then the writes: new persons and their driver links, lead links, origins
 *   (with history), job rows, the run's counts; the batch's queue rows go.
 *
 * The caller runs it in one transaction, so a batch commits whole or not at all.
 * Batches of all runs are serialised by a transaction-level advisory lock and
 * read the state after taking it: two runs over the same leads cannot link a
 * lead twice or create a second person for a driver; the later one finds the
 * lead resolved and skips it.
 */
create or replace function ops.process_identity_batch(p_run_id bigint, p_from_seq integer, p_to_seq integer)
returns table (processed integer, matched integer, failed integer, pending integer, skipped integer)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  target_park text := ops.setting_text('target_park_id');
  threshold numeric := ops.setting_numeric('name_similarity_threshold');
  margin numeric := ops.setting_numeric('ambiguity_margin');
  window_before integer := ops.setting_integer('plate_hire_window_days_before');
  window_after integer := ops.setting_integer('plate_hire_window_days_after');
  max_attempts integer := ops.setting_integer('max_attempts');
  backoff_base integer := ops.setting_integer('retry_backoff_base_minutes');
  backoff_cap integer := ops.setting_integer('retry_backoff_cap_minutes');
  counts record;
  /* Milliseconds per step, summed into the run's stats.step_ms: where the time goes, per run. */
  step_started timestamptz := clock_timestamp();
  step_ms jsonb := '{}';
begin
  perform pg_advisory_xact_lock(hashtextextended('idgap.recovery_batch', 0));

  drop table if exists pg_temp.batch_leads, pg_temp.batch_candidates, pg_temp.batch_rules,
                       pg_temp.batch_decisions, pg_temp.batch_new_persons, pg_temp.batch_origin_plan;

  /* 1. The leads, with keys normalised by the same functions as the drivers index, and their gap state. */
  create temp table batch_leads on commit drop as
  with queued as (
    select queue.seq, queue.lead_id
    from ops.recovery_queue as queue
    where queue.run_id = p_run_id and queue.seq between p_from_seq and p_to_seq
  ),
  found as (
    select distinct on (queued.lead_id)
           queued.seq, queued.lead_id, cabinet_leads.id as lead_pk, cabinet_leads.lead_created_at,
           cabinet_leads.park_phone, cabinet_leads.asset_plate_number,
           concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name) as lead_name
    from queued
    left join public.module_ct_cabinet_leads as cabinet_leads
      on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = queued.lead_id
    order by queued.lead_id, (cabinet_leads.external_id is not null) desc, queued.seq
  )
  select found.seq,
         found.lead_id,
         found.lead_pk is not null as lead_found,
         found.lead_created_at,
         found.lead_created_at::date as lead_date,
         canon.norm_phone(found.park_phone, country_code) as phone_norm,
         canon.norm_plate(found.asset_plate_number) as plate_norm,
         canon.name_tokens(found.lead_name) as name_tokens,
         lead_links.person_key as linked_person_key,
         origins.origin_tag,
         origins.origin_source_id,
         origins.decided_by as origin_decided_by,
         case
           when found.lead_pk is null then null
           when lead_links.person_key is null then 'no_identity'
           when origins.person_key is null or origins.origin_tag <> 'cabinet_lead' then 'no_origin'
           when origin_links.person_key is distinct from lead_links.person_key then 'inconsistent_origin'
           else 'resolved'
         end as gap_reason
  from found
  left join canon.identity_links as lead_links
    on lead_links.source_table = 'module_ct_cabinet_leads' and lead_links.source_pk = found.lead_id
  left join canon.identity_origin as origins on origins.person_key = lead_links.person_key
  left join canon.identity_links as origin_links
    on origin_links.source_table = 'module_ct_cabinet_leads' and origin_links.source_pk = origins.origin_source_id
       and origins.origin_tag = 'cabinet_lead';
  analyze batch_leads;
  step_ms := step_ms || jsonb_build_object('leads', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 2. Candidates per rule. A driver already linked to a person stands for that
   * person; an unlinked driver for a new person of its own ('driver:<id>').
   * Plate pairs are computed once: R3 keeps the drivers inside the hire-date
   * window (lead date known), R3B takes every driver on the plate but only for
   * leads where R3 found nobody on the plate inside the window.
   */
  create temp table batch_candidates on commit drop as
  with matchable as (
    select batch_leads.*
    from batch_leads
    where batch_leads.lead_found and batch_leads.gap_reason <> 'resolved'
  ),
  phone_pairs as (
    select matchable.lead_id, 1 as rule_no, idx.driver_id, idx.park_id, null::numeric as similarity
    from matchable
    join canon.drivers_index as idx on idx.phone_norm = matchable.phone_norm
    where matchable.phone_norm is not null
  ),
  plate_pairs as (
    select matchable.lead_id, idx.driver_id, idx.park_id,
           canon.name_similarity(matchable.name_tokens, idx.name_tokens) as similarity,
           (matchable.lead_date is not null
            and (idx.hire_date is null
                 or idx.hire_date between matchable.lead_date + window_before and matchable.lead_date + window_after)) as in_window
    from matchable
    join canon.drivers_index as idx on idx.plate_norm = matchable.plate_norm
    where matchable.plate_norm is not null
  ),
  plate_rules as (
    select plate_pairs.*, bool_or(plate_pairs.in_window) over (partition by plate_pairs.lead_id) as window_has_driver
    from plate_pairs
  ),
  all_pairs as (
    select phone_pairs.* from phone_pairs
    union all
    select plate_rules.lead_id, case when plate_rules.window_has_driver then 2 else 3 end, plate_rules.driver_id,
           plate_rules.park_id, plate_rules.similarity
    from plate_rules
    where plate_rules.in_window or not plate_rules.window_has_driver
  ),
  parked as (
    select all_pairs.*,
           coalesce(bool_or(all_pairs.park_id = target_park) over (partition by all_pairs.lead_id, all_pairs.rule_no), false) as rule_has_target_park
    from all_pairs
  )
  select parked.lead_id, parked.rule_no, parked.driver_id, parked.park_id, parked.similarity,
         driver_links.person_key as driver_person_key,
         coalesce(driver_links.person_key::text, 'driver:' || parked.driver_id) as candidate_person
  from parked
  left join canon.identity_links as driver_links
    on driver_links.source_table = 'drivers' and driver_links.source_pk = parked.driver_id
  where target_park is null or not parked.rule_has_target_park or parked.park_id = target_park;
  analyze batch_candidates;
  step_ms := step_ms || jsonb_build_object('candidates', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 3. One verdict per lead and rule. R1: one person -> named, several -> ambiguous.
   * Plate rules: the best similarity below the threshold -> weak; the best of any
   * other person within the margin of the best -> ambiguous; else the best's person.
   */
  create temp table batch_rules on commit drop as
  with ranked as (
    select batch_candidates.*,
           first_value(batch_candidates.candidate_person) over per_rule as top_person,
           max(batch_candidates.similarity) over (partition by batch_candidates.lead_id, batch_candidates.rule_no) as best_similarity
    from batch_candidates
    window per_rule as (partition by batch_candidates.lead_id, batch_candidates.rule_no
                        order by batch_candidates.similarity desc nulls last, batch_candidates.candidate_person)
  ),
  per_rule as (
    select ranked.lead_id,
           ranked.rule_no,
           min(ranked.top_person) as top_person,
           max(ranked.best_similarity) as best_similarity,
           max(ranked.similarity) filter (where ranked.candidate_person <> ranked.top_person) as other_similarity,
           count(distinct ranked.candidate_person) as persons,
           array_agg(distinct ranked.candidate_person) as candidate_persons,
           jsonb_agg(jsonb_build_object(
             'driver_id', ranked.driver_id,
             'park_id', ranked.park_id,
             'person_key', ranked.driver_person_key,
             'similarity', round(ranked.similarity, 4)) order by ranked.similarity desc nulls last, ranked.driver_id) as candidates
    from ranked
    group by ranked.lead_id, ranked.rule_no
  )
  select per_rule.*,
         case
           when per_rule.rule_no = 1 then case when per_rule.persons = 1 then 'named' else 'ambiguous' end
           when per_rule.best_similarity < threshold then 'weak'
           when per_rule.other_similarity is not null and per_rule.best_similarity - per_rule.other_similarity <= margin then 'ambiguous'
           else 'named'
         end as verdict
  from per_rule;
  analyze batch_rules;
  step_ms := step_ms || jsonb_build_object('rules', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 4. One decision per lead. Rules that name a person must agree; an ambiguous
   * rule lets a link through only when the named person is among its candidates.
   * A wrong link is worse than no link.
   */
  create temp table batch_decisions on commit drop as
  with combined as (
    select batch_rules.lead_id,
           count(distinct batch_rules.top_person) filter (where batch_rules.verdict = 'named') as named_persons,
           min(batch_rules.top_person) filter (where batch_rules.verdict = 'named') as named_person,
           min(batch_rules.rule_no) filter (where batch_rules.verdict = 'named') as best_rule,
           bool_or(batch_rules.verdict = 'ambiguous') as any_ambiguous,
           bool_or(batch_rules.verdict = 'weak') as any_weak,
           max(round(batch_rules.best_similarity * 100)::integer) filter (where batch_rules.rule_no = 3) as r3b_score,
           jsonb_object_agg(
             case batch_rules.rule_no when 1 then 'R1_PHONE_EXACT' when 2 then 'R3_PLATE_NAME' else 'R3B_PLATE_NAME_ANY_DATE' end,
             jsonb_build_object('verdict', batch_rules.verdict,
                                'best_similarity', round(batch_rules.best_similarity, 4),
                                'candidates', batch_rules.candidates)) as rules
    from batch_rules
    group by batch_rules.lead_id
  ),
  /* An ambiguous rule lets the named person through only if that person is among its candidates. */
  ambiguity as (
    select ambiguous.lead_id, bool_and(combined.named_person = any (ambiguous.candidate_persons)) as allows
    from batch_rules as ambiguous
    join combined on combined.lead_id = ambiguous.lead_id
    where ambiguous.verdict = 'ambiguous'
    group by ambiguous.lead_id
  ),
  person_drivers as (
    select candidates.lead_id, candidates.rule_no, candidates.candidate_person, min(candidates.driver_id) as driver_id
    from batch_candidates as candidates
    group by candidates.lead_id, candidates.rule_no, candidates.candidate_person
  ),
  checked as (
    select combined.*, coalesce(ambiguity.allows, true) as ambiguity_allows, person_drivers.driver_id as matched_driver_id
    from combined
    left join ambiguity on ambiguity.lead_id = combined.lead_id
    left join person_drivers
      on person_drivers.lead_id = combined.lead_id and person_drivers.rule_no = combined.best_rule
         and person_drivers.candidate_person = combined.named_person
  ),
  decided as (
    select batch_leads.seq,
           batch_leads.lead_id,
           batch_leads.lead_created_at,
           batch_leads.linked_person_key,
           batch_leads.gap_reason,
           checked.named_person,
           checked.best_rule,
           checked.rules,
           checked.r3b_score,
           checked.matched_driver_id,
           case
             when not batch_leads.lead_found then 'LEAD_NOT_FOUND'
             when batch_leads.gap_reason = 'resolved' then 'SKIP'
             when batch_leads.linked_person_key is not null then
               /* Linked lead in the gap: derive its origin again, unless matching names another existing person. */
               case when checked.named_persons = 1 and checked.ambiguity_allows
                         and checked.named_person not like 'driver:%'
                         and checked.named_person <> batch_leads.linked_person_key::text
                    then 'CONFLICTING_LINK' else 'REPAIR' end
             when batch_leads.phone_norm is null and batch_leads.plate_norm is null then 'MISSING_KEYS'
             when checked.named_persons = 1 and checked.ambiguity_allows then 'LINK'
             when batch_leads.lead_date is null then 'INVALID_LEAD_DATE'
             when checked.named_persons >= 1 or checked.any_ambiguous then 'MULTIPLE_CANDIDATES'
             when checked.any_weak then 'WEAK_MATCH_ONLY'
             else 'NO_CANDIDATES'
           end as decision,
           jsonb_build_object('phone_norm', batch_leads.phone_norm, 'plate_norm', batch_leads.plate_norm,
                              'lead_date', batch_leads.lead_date) as lead_keys
    from batch_leads
    left join checked on checked.lead_id = batch_leads.lead_id
  )
  select decided.seq, decided.lead_id, decided.lead_created_at, decided.linked_person_key, decided.gap_reason,
         decided.named_person, decided.best_rule, decided.rules, decided.decision, decided.lead_keys, decided.matched_driver_id,
         case decided.best_rule when 1 then 'R1_PHONE_EXACT' when 2 then 'R3_PLATE_NAME' when 3 then 'R3B_PLATE_NAME_ANY_DATE' end as match_rule,
         case decided.best_rule when 1 then 'HIGH' else 'MEDIUM' end as confidence_level,
         case decided.best_rule when 1 then 95 when 2 then 85 when 3 then decided.r3b_score end as match_score,
         null::uuid as person_key
  from decided;
  analyze batch_decisions;
  step_ms := step_ms || jsonb_build_object('decisions', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 5. New persons: one per unlinked driver, even when several leads of the batch name it. */
  create temp table batch_new_persons on commit drop as
  select chosen.driver_id, canon.uuid_v7() as person_key, chosen.confidence_level, chosen.best_rule, chosen.lead_id
  from (
    select distinct on (decisions.matched_driver_id)
           decisions.matched_driver_id as driver_id, decisions.confidence_level, decisions.best_rule, decisions.lead_id
    from batch_decisions as decisions
    where decisions.decision = 'LINK' and decisions.named_person like 'driver:%'
    order by decisions.matched_driver_id, decisions.best_rule, decisions.lead_id
  ) as chosen
  order by chosen.driver_id;

  insert into canon.identity_registry (person_key, confidence_level, primary_phone, primary_license, primary_full_name)
  select new_persons.person_key, new_persons.confidence_level, idx.phone_norm, idx.license_norm, idx.name_norm
  from batch_new_persons as new_persons
  join canon.drivers_index as idx on idx.driver_id = new_persons.driver_id
  order by new_persons.person_key;

  insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
  select new_persons.person_key, 'drivers', new_persons.driver_id, 'DRIVER_MATCH', 100, 'HIGH',
         jsonb_build_object('lead_id', new_persons.lead_id,
                            'rule', case new_persons.best_rule when 1 then 'R1_PHONE_EXACT' when 2 then 'R3_PLATE_NAME' else 'R3B_PLATE_NAME_ANY_DATE' end),
         p_run_id
  from batch_new_persons as new_persons
  order by new_persons.driver_id;
  step_ms := step_ms || jsonb_build_object('new_persons', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  update batch_decisions as decisions
  set person_key = case when decisions.named_person like 'driver:%' then new_persons.person_key
                        else decisions.named_person::uuid end
  from batch_decisions as named
  left join batch_new_persons as new_persons on new_persons.driver_id = named.matched_driver_id
  where named.lead_id = decisions.lead_id and decisions.decision = 'LINK';

  /* 6. Lead links. A lead linked meanwhile by someone else is not re-pointed: CONFLICTING_LINK. */
  with inserted as (
    insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
    select decisions.person_key, 'module_ct_cabinet_leads', decisions.lead_id, decisions.match_rule, decisions.match_score,
           decisions.confidence_level,
           jsonb_build_object('rule', decisions.match_rule, 'driver_id', decisions.matched_driver_id,
                              'lead', decisions.lead_keys, 'rules', decisions.rules, 'target_park_id', target_park),
           p_run_id
    from batch_decisions as decisions
    where decisions.decision = 'LINK'
    order by decisions.lead_id
    on conflict (source_table, source_pk) do nothing
    returning source_pk
  )
  update batch_decisions as decisions
  set decision = 'CONFLICTING_LINK'
  where decisions.decision = 'LINK'
    and not exists (select 1 from inserted where inserted.source_pk = decisions.lead_id);

  update batch_decisions as decisions
  set person_key = decisions.linked_person_key
  where decisions.decision = 'REPAIR';
  /* With person_key filled in, fresh statistics keep the origin step on the person_key index
     (stale ones made it read every lead link per person: batches slowed as links grew). */
  analyze batch_decisions;
  step_ms := step_ms || jsonb_build_object('lead_links', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 7. Origins of every person this batch linked or repairs: the earliest linked
   * lead (lead_created_at, then lead_id). Inserted, corrected when it points
   * elsewhere, upgraded when its tag ranks lower; a manual origin is kept and a
   * lead it leaves in the gap is reported CONFLICTING_LINK.
   */
  create temp table batch_origin_plan on commit drop as
  with touched as (
    select distinct decisions.person_key
    from batch_decisions as decisions
    where decisions.decision in ('LINK', 'REPAIR') and decisions.person_key is not null
  ),
  earliest as (
    select distinct on (links.person_key)
           links.person_key, links.source_pk as lead_id, cabinet_leads.lead_created_at, links.match_score, links.match_rule
    from touched
    join canon.identity_links as links
      on links.person_key = touched.person_key and links.source_table = 'module_ct_cabinet_leads'
    left join public.module_ct_cabinet_leads as cabinet_leads
      on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = links.source_pk
    order by links.person_key, cabinet_leads.lead_created_at asc nulls last, links.source_pk
  )
  select earliest.*,
         origins.origin_tag as old_tag,
         origins.origin_source_id as old_source_id,
         origins.decided_by as old_decided_by,
         case
           when origins.person_key is null then 'origin_created'
           when origins.origin_tag = 'cabinet_lead' and origins.origin_source_id = earliest.lead_id then 'unchanged'
           when origins.decided_by = 'manual' then 'manual_kept'
           when origins.origin_tag = 'cabinet_lead' then 'origin_corrected'
           else 'origin_upgraded'
         end as action
  from earliest
  left join canon.identity_origin as origins on origins.person_key = earliest.person_key;

  insert into canon.identity_origin (person_key, origin_tag, origin_source_id, origin_created_at, origin_confidence, decided_by, decided_at, evidence)
  select plan.person_key, 'cabinet_lead', plan.lead_id, plan.lead_created_at, plan.match_score, 'system', now(),
         jsonb_build_object('rule', 'earliest_linked_lead', 'link_rule', plan.match_rule, 'run_id', p_run_id)
  from batch_origin_plan as plan
  where plan.action = 'origin_created'
  order by plan.person_key;

  update canon.identity_origin as origins
  set origin_tag = 'cabinet_lead',
      origin_source_id = plan.lead_id,
      origin_created_at = plan.lead_created_at,
      origin_confidence = plan.match_score,
      decided_by = 'system',
      decided_at = now(),
      evidence = jsonb_build_object('rule', 'earliest_linked_lead', 'link_rule', plan.match_rule, 'run_id', p_run_id,
                                    'previous_tag', plan.old_tag, 'previous_source_id', plan.old_source_id)
  from batch_origin_plan as plan
  where plan.person_key = origins.person_key and plan.action in ('origin_corrected', 'origin_upgraded');

  insert into canon.identity_origin_history (person_key, old_origin_tag, new_origin_tag, old_source_id, new_source_id, changed_by, change_reason, run_id)
  select plan.person_key, plan.old_tag, 'cabinet_lead', plan.old_source_id, plan.lead_id, 'system', plan.action, p_run_id
  from batch_origin_plan as plan
  where plan.action in ('origin_created', 'origin_corrected', 'origin_upgraded');

  /* A manual origin the system disagrees with stays; the leads it leaves in the gap are reported. */
  update batch_decisions as decisions
  set decision = 'CONFLICTING_LINK'
  from batch_origin_plan as plan
  where plan.person_key = decisions.person_key
    and plan.action = 'manual_kept'
    and decisions.decision in ('LINK', 'REPAIR')
    and not (plan.old_tag = 'cabinet_lead'
             and exists (select 1 from canon.identity_links as origin_links
                         where origin_links.source_table = 'module_ct_cabinet_leads'
                           and origin_links.source_pk = plan.old_source_id
                           and origin_links.person_key = plan.person_key));
  step_ms := step_ms || jsonb_build_object('origins', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /*
   * 8. Job rows, in one upsert: attempts, backoff (base * 2^(attempts-1) minutes,
   * capped) and the cut to failed at max attempts, computed from the attempt
   * count the row had (0 for a new row).
   */
  insert into ops.identity_matching_jobs as jobs
    (source_table, source_id, status, attempt_count, last_attempt_at, next_attempt_at, fail_reason, fail_detail,
     matched_person_key, match_rule, last_run_id, created_at, updated_at)
  select 'module_ct_cabinet_leads', decisions.lead_id,
         case when outcome.status = 'pending' and 1 >= max_attempts then 'failed' else outcome.status end,
         outcome.attempts,
         now(),
         case when outcome.status = 'pending' and 1 < max_attempts then now() + ops.retry_backoff(1, backoff_base, backoff_cap) end,
         case when decisions.decision in ('LINK', 'REPAIR', 'SKIP') then null else decisions.decision end,
         case decisions.decision
           when 'CONFLICTING_LINK' then 'the lead or its person already has a link or origin that disagrees; not changed'
           when 'LEAD_NOT_FOUND' then 'the lead no longer exists in public.module_ct_cabinet_leads'
         end,
         case when decisions.decision in ('LINK', 'REPAIR') then decisions.person_key end,
         case decisions.decision when 'LINK' then decisions.match_rule when 'REPAIR' then 'ORIGIN_REPAIR' end,
         p_run_id, now(), now()
  from batch_decisions as decisions
  cross join lateral (
    select case decisions.decision
             when 'LINK' then 'matched' when 'REPAIR' then 'matched' when 'SKIP' then 'skipped'
             when 'LEAD_NOT_FOUND' then 'failed' else 'pending' end as status,
           case when decisions.decision = 'SKIP' then 0 else 1 end as attempts
  ) as outcome
  order by decisions.lead_id
  on conflict (source_table, source_id) do update
  /* A retryable miss (any reason but LEAD_NOT_FOUND) counts against the attempts the row already had. */
  set status = case when excluded.fail_reason is not null and excluded.fail_reason <> 'LEAD_NOT_FOUND'
                    then case when jobs.attempt_count + 1 >= max_attempts then 'failed' else 'pending' end
                    else excluded.status end,
      attempt_count = jobs.attempt_count + excluded.attempt_count,
      last_attempt_at = excluded.last_attempt_at,
      next_attempt_at = case when excluded.fail_reason is not null and excluded.fail_reason <> 'LEAD_NOT_FOUND'
                                  and jobs.attempt_count + 1 < max_attempts
                             then now() + ops.retry_backoff(jobs.attempt_count + 1, backoff_base, backoff_cap)
                        end,
      fail_reason = excluded.fail_reason,
      fail_detail = excluded.fail_detail,
      matched_person_key = excluded.matched_person_key,
      match_rule = excluded.match_rule,
      last_run_id = excluded.last_run_id,
      updated_at = excluded.updated_at
  /* A lead found resolved keeps the row of the run that matched it (a concurrent or earlier run). */
  where not (excluded.status = 'skipped' and jobs.status = 'matched');

  step_ms := step_ms || jsonb_build_object('job_rows', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  select count(*)::integer as processed,
         (count(*) filter (where decisions.decision in ('LINK', 'REPAIR')))::integer as matched,
         (count(*) filter (where jobs.status = 'failed'))::integer as failed,
         (count(*) filter (where jobs.status = 'pending'))::integer as pending,
         (count(*) filter (where decisions.decision = 'SKIP'))::integer as skipped
  into counts
  from batch_decisions as decisions
  join ops.identity_matching_jobs as jobs
    on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = decisions.lead_id;

  update ops.job_runs as runs
  set processed = runs.processed + counts.processed,
      matched = runs.matched + counts.matched,
      failed = runs.failed + counts.failed,
      pending = runs.pending + counts.pending,
      skipped = runs.skipped + counts.skipped,
      stats = runs.stats || jsonb_build_object('step_ms', (
                select jsonb_object_agg(steps.key, round(coalesce((runs.stats -> 'step_ms' ->> steps.key)::numeric, 0) + steps.value::numeric, 1))
                from jsonb_each_text(step_ms) as steps)) || jsonb_build_object('reasons',
                coalesce(runs.stats -> 'reasons', '{}'::jsonb) || coalesce((
                  select jsonb_object_agg(reasons.decision, coalesce((runs.stats -> 'reasons' ->> reasons.decision)::integer, 0) + reasons.n)
                  from (select decisions.decision, count(*) as n from batch_decisions as decisions group by decisions.decision) as reasons), '{}'::jsonb))
  where runs.id = p_run_id;

  delete from ops.recovery_queue as queue
  where queue.run_id = p_run_id and queue.seq between p_from_seq and p_to_seq;

  return query select counts.processed, counts.matched, counts.failed, counts.pending, counts.skipped;
end
$$;
comment on function ops.process_identity_batch(bigint, integer, integer) is 'Recovers the leads of a run''s queue between two seq numbers: matching by the rules of SPEC 3, persons, links, origins, job rows and the run''s counts, set-based. Call it in its own transaction.';
