/*
 * Step 2 of ops.process_identity_batch: the drivers each rule finds for the
 * batch's leads in the gap (pg_temp.batch_leads), after the target-park filter,
 * into pg_temp.batch_candidates. Plate pairs are computed once: R3 keeps the
 * drivers inside the hire-date window (lead date known), R3B takes every driver
 * on the plate but only for leads where R3 found nobody on the plate inside the
 * window. Each driver comes with its keys (the registry row of a person
 * created from it needs no second read of the index) and the person it stands
 * for (no other batch of the run links these drivers: ops.plan_recovery's
 * components). A rule's rule_no is its priority in ops.match_rules.
 */
create or replace function ops.batch_find_candidates(target_park text, window_before integer, window_after integer)
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
/* A batch's leads seldom share a phone or a plate: the planner's Memoize over the index probes found 0 hits in
   2,667 phone and 3,193 plate probes of a 5,000-lead batch at 1M: the step took 78-81 ms a batch with it, 72-76 without. */
set enable_memoize = off
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_candidates (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text)';
  drop table if exists pg_temp.batch_candidates;
  create temp table batch_candidates on commit drop as
  with matchable as (
    select batch_leads.*
    from batch_leads
    where batch_leads.lead_found and batch_leads.gap_reason <> 'resolved'
  ),
  phone_pairs as (
    select matchable.lead_id, 1 as rule_no, idx.driver_id, idx.park_id, null::numeric as similarity,
           idx.phone_norm as driver_phone, idx.license_norm as driver_license, idx.name_norm as driver_name
    from matchable
    join canon.drivers_index as idx on idx.phone_norm = matchable.phone_norm
    where matchable.phone_norm is not null
  ),
  plate_pairs as (
    select matchable.lead_id, idx.driver_id, idx.park_id,
           idx.phone_norm as driver_phone, idx.license_norm as driver_license, idx.name_norm as driver_name,
           /* The lead's name tokens per plate pair, not per lead: at 1M leads there are ~470,000 plate pairs. */
           canon.name_similarity(canon.name_tokens(matchable.lead_name), idx.name_tokens) as similarity,
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
           plate_rules.park_id, plate_rules.similarity, plate_rules.driver_phone, plate_rules.driver_license, plate_rules.driver_name
    from plate_rules
    where plate_rules.in_window or not plate_rules.window_has_driver
  ),
  parked as (
    select all_pairs.*,
           coalesce(bool_or(all_pairs.park_id = target_park) over (partition by all_pairs.lead_id, all_pairs.rule_no), false) as rule_has_target_park
    from all_pairs
    /* A pair a reviewer rejected is never linked nor proposed again, under any rule. */
    where not exists (select 1 from ops.review_decisions as rejected
                      where rejected.decision = 'reject' and rejected.lead_id = all_pairs.lead_id
                        and rejected.driver_id = all_pairs.driver_id)
  )
  select parked.lead_id, parked.rule_no, parked.driver_id, parked.park_id, parked.similarity,
         parked.driver_phone, parked.driver_license, parked.driver_name,
         driver_links.person_key as driver_person_key,
         ops.candidate_person(driver_links.person_key, parked.driver_id) as candidate_person
  from parked
  left join canon.identity_links as driver_links
    on driver_links.source_table = 'drivers' and driver_links.source_pk = parked.driver_id
  where target_park is null or not parked.rule_has_target_park or parked.park_id = target_park;
  analyze pg_temp.batch_candidates (lead_id, rule_no, driver_id, candidate_person);

  /* The near-key candidates of the leads these leave without a person (pg_temp.batch_near, batch_near_rules). */
  perform ops.batch_near_candidates(target_park, window_before, window_after, ops.setting_numeric('name_similarity_threshold'));
end
$$;
comment on function ops.batch_find_candidates(text, integer, integer) is 'Step 2 of ops.process_identity_batch: (re)creates pg_temp.batch_candidates, one row per lead, rule and driver found (with the person the driver stands for), from pg_temp.batch_leads, then the near-key candidates (ops.batch_near_candidates). Internal: called inside the batch transaction only.';
