/*
 * Step 2b of ops.process_identity_batch (called by ops.batch_find_candidates):
 * the near-key candidates of the leads the exact rules leave without a person
 * (no rule R1 candidate, no plate candidate whose name passes the threshold:
 * no candidate, or weak), scored, and one near-key verdict per such lead.
 *   R4_PLATE_NEAR, R5_PHONE_NEAR  the pairs the run's plan found (ops.recovery_near_pairs, for the leads
 *                                 with no exact candidate at all): a batch uses no pair its plan did
 *                                 not put into the components
 *   R6_NAME_NEAR_PLATE            the lead's plate candidates (pg_temp.batch_candidates)
 * A candidate counts only when its name agrees (level exact or one_edit: a near
 * key of someone whose name disagrees never links) and the pair was not rejected
 * by a reviewer. Each is scored by ops.pair_score (Fellegi-Sunter); a driver
 * found by two rules keeps the first. Per lead (pg_temp.batch_near_rules), on
 * the best candidate's person:
 *   below match_review_threshold                            no verdict (nothing)
 *   another person within near_ambiguity_margin bits of it  ambiguous (never a link)
 *   at or above match_link_threshold                        named (a link; HIGH at or above
 *                                                            match_high_confidence_threshold, else MEDIUM)
 *   else                                                    review (REVIEW_BAND)
 * near_keys_enabled = 0 leaves both tables empty. Nothing is written to shared tables.
 */
create or replace function ops.batch_near_candidates(target_park text, window_before integer, window_after integer, threshold numeric)
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
as $$
declare
  enabled boolean := coalesce(ops.setting_integer('near_keys_enabled'), 0) = 1;
  weights jsonb := ops.match_weights_json();
  link_threshold integer := ops.setting_integer('match_link_threshold');
  review_threshold integer := ops.setting_integer('match_review_threshold');
  high_threshold integer := ops.setting_integer('match_high_confidence_threshold');
  margin numeric := ops.setting_numeric('near_ambiguity_margin');
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_candidates (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text)';
  perform 'PRAGMA:TABLE: batch_near (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text, score integer, weight numeric, evidence jsonb)';
  perform 'PRAGMA:TABLE: batch_near_rules (lead_id text, rule_no integer, top_person text, best_similarity numeric, other_similarity numeric, persons bigint, candidate_persons text[], candidates json, verdict text, score integer, confidence_level text, detail json)';
  drop table if exists pg_temp.batch_near, pg_temp.batch_near_rules;
  create temp table batch_near on commit drop as
  with found as materialized (
    /* The pairs of the batch's leads: the plan's (R4, R5), and the plate candidates of the leads whose plate rule is
       weak (R6); the leads are read from the pairs (a few per cent of the batch), not the pairs from every lead. */
    select planned.lead_id, planned.rule_no, planned.driver_id
    from batch_leads
    /* A probe of the pairs' primary key (lead_id first) per lead of the batch: the table is written by the plan and
       never analysed, and a join read all the run's pairs for every batch (44,266 at 1M, 15-20 ms a batch). */
    cross join lateral (
      select planned.lead_id, planned.run_id, planned.rule_no, planned.driver_id
      from ops.recovery_near_pairs as planned
      where planned.lead_id = batch_leads.lead_id
      offset 0
    ) as planned
    join ops.job_runs as runs on runs.id = planned.run_id and runs.state = 'running'
    where enabled
    union all
    select plates.lead_id, 6, plates.driver_id
    from batch_candidates as plates
    where enabled and plates.rule_no in (2, 3)
  ),
  open_leads as materialized (
    select batch_leads.lead_id, batch_leads.phone_norm, batch_leads.plate_norm, batch_leads.lead_date,
           canon.name_tokens(batch_leads.lead_name) as lead_tokens
    from batch_leads
    where batch_leads.lead_id in (select found.lead_id from found)
      and batch_leads.lead_found and batch_leads.gap_reason <> 'resolved' and batch_leads.linked_person_key is null
      and not exists (select 1 from batch_candidates as exact
                      where exact.lead_id = batch_leads.lead_id and (exact.rule_no = 1 or exact.similarity >= threshold))
  ),
  pairs as (
    select found.lead_id, found.rule_no, found.driver_id
    from found
    where found.lead_id in (select open_leads.lead_id from open_leads)
  ),
  first_rule as (
    select distinct on (pairs.lead_id, pairs.driver_id) pairs.lead_id, pairs.rule_no, pairs.driver_id
    from pairs
    where not exists (select 1 from ops.review_decisions as rejected
                      where rejected.decision = 'reject' and rejected.lead_id = pairs.lead_id and rejected.driver_id = pairs.driver_id)
    order by pairs.lead_id, pairs.driver_id, pairs.rule_no
  ),
  /* Materialised: ops.pair_score once a pair (the name level below is read from its evidence, and the planner put that
     filter into the join, scoring every pair twice). */
  scored as materialized (
    select first_rule.lead_id, first_rule.rule_no, idx.driver_id, idx.park_id,
           round(canon.name_similarity_near(open_leads.lead_tokens, idx.name_tokens), 4) as similarity,
           idx.phone_norm as driver_phone, idx.license_norm as driver_license, idx.name_norm as driver_name,
           driver_links.person_key as driver_person_key,
           ops.candidate_person(driver_links.person_key, idx.driver_id) as candidate_person,
           ops.pair_score(weights, target_park, threshold, window_before, window_after,
                          open_leads.phone_norm, open_leads.plate_norm, open_leads.lead_tokens, open_leads.lead_date,
                          idx.phone_norm, idx.plate_norm, idx.name_tokens, idx.hire_date, idx.park_id) as evidence
    from first_rule
    join open_leads on open_leads.lead_id = first_rule.lead_id
    join canon.drivers_index as idx on idx.driver_id = first_rule.driver_id
    left join canon.identity_links as driver_links
      on driver_links.source_table = 'drivers' and driver_links.source_pk = idx.driver_id
  )
  select scored.lead_id, scored.rule_no, scored.driver_id, scored.park_id, scored.similarity, scored.driver_phone,
         scored.driver_license, scored.driver_name, scored.driver_person_key, scored.candidate_person,
         (scored.evidence ->> 'score')::integer as score, (scored.evidence ->> 'weight')::numeric as weight, scored.evidence
  from scored
  /* A name that disagrees never links, and is no candidate. */
  where scored.evidence -> 'fields' -> 'name' ->> 'level' in ('exact', 'one_edit');
  analyze pg_temp.batch_near (lead_id, driver_id, candidate_person);

  create temp table batch_near_rules on commit drop as
  with per_person as (
    select distinct on (near.lead_id, near.candidate_person) near.*
    from batch_near as near
    order by near.lead_id, near.candidate_person, near.weight desc, near.rule_no, near.driver_id
  ),
  ranked as (
    select per_person.*,
           row_number() over (partition by per_person.lead_id order by per_person.weight desc, per_person.rule_no, per_person.driver_id) as person_rank,
           count(*) over (partition by per_person.lead_id) as persons
    from per_person
  ),
  per_lead as (
    select best.lead_id, best.rule_no, best.candidate_person as top_person, best.similarity as best_similarity,
           second.similarity as other_similarity, best.persons, best.score, best.evidence,
           second.weight is not null and second.weight >= best.weight - margin as ambiguous
    from ranked as best
    left join ranked as second on second.lead_id = best.lead_id and second.person_rank = 2
    where best.person_rank = 1
  ),
  /* Per lead in one pass each (correlated sub-selects read the whole batch's pairs once per lead). */
  persons_of as (
    select ranked.lead_id, array_agg(ranked.candidate_person order by ranked.person_rank) as candidate_persons
    from ranked
    group by ranked.lead_id
  ),
  candidates_of as (
    select near.lead_id,
           json_agg(json_build_object('driver_id', near.driver_id, 'park_id', near.park_id, 'person_key', near.driver_person_key,
                                      'rule', catalogue.match_rule, 'score', near.score, 'weight', near.weight)
                    order by near.weight desc, near.driver_id) as candidates
    from batch_near as near join ops.match_rules as catalogue on catalogue.priority = near.rule_no
    group by near.lead_id
  )
  select per_lead.lead_id, per_lead.rule_no, per_lead.top_person, per_lead.best_similarity, per_lead.other_similarity,
         per_lead.persons,
         persons_of.candidate_persons,
         candidates_of.candidates,
         case when per_lead.ambiguous then 'ambiguous'
              when per_lead.score >= link_threshold then 'named'
              else 'review' end as verdict,
         per_lead.score,
         case when per_lead.score >= high_threshold then 'HIGH' else 'MEDIUM' end as confidence_level,
         per_lead.evidence::json as detail
  from per_lead
  join persons_of on persons_of.lead_id = per_lead.lead_id
  join candidates_of on candidates_of.lead_id = per_lead.lead_id
  where per_lead.score >= review_threshold;
  analyze pg_temp.batch_near_rules (lead_id, verdict, top_person);
end
$$;
comment on function ops.batch_near_candidates(text, integer, integer, numeric) is 'Step 2b of ops.process_identity_batch: (re)creates pg_temp.batch_near (near-key candidates of the leads the exact rules leave without a person, names agreeing, Fellegi-Sunter scored) and pg_temp.batch_near_rules (one near-key verdict per such lead: named, ambiguous or review). Internal: called inside the batch transaction only.';
