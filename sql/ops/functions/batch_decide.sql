/*
 * Steps 3 and 4 of ops.process_identity_batch, from pg_temp.batch_leads and
 * pg_temp.batch_candidates:
 *   batch_rules        one verdict per lead and rule: named person, ambiguous or weak
 *   batch_decisions    one decision per lead: link, repair, skip or a reason code,
 *                      the person it points to, and for a repaired lead the
 *                      other person matching named, if any (a finding)
 *   batch_new_persons  a new person key per unlinked driver a link names, with
 *                      the driver's keys for the registry row
 * Rule names, scores and confidences come from the rule catalogue
 * (ops.match_rules; a candidate's rule_no is the rule's priority there).
 * Nothing is written to shared tables.
 */
create or replace function ops.batch_decide(threshold numeric, margin numeric)
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_candidates (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text)';
  perform 'PRAGMA:TABLE: batch_near (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text, score integer, weight numeric, evidence jsonb)';
  perform 'PRAGMA:TABLE: batch_near_rules (lead_id text, rule_no integer, top_person text, best_similarity numeric, other_similarity numeric, persons bigint, candidate_persons text[], candidates json, verdict text, score integer, confidence_level text, detail json)';
  perform 'PRAGMA:TABLE: batch_rules (lead_id text, rule_no integer, top_person text, best_similarity numeric, other_similarity numeric, persons bigint, candidate_persons text[], candidates json, verdict text, score integer, confidence_level text, detail json)';
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  perform 'PRAGMA:TABLE: batch_new_persons (driver_id text, person_key uuid, confidence_level text, best_rule integer, lead_id text, phone_norm text, license_norm text, name_norm text)';
  drop table if exists pg_temp.batch_rules, pg_temp.batch_decisions;
  create temp table batch_rules on commit drop as
  with ranked as (
    select batch_candidates.lead_id, batch_candidates.rule_no, batch_candidates.driver_id, batch_candidates.park_id,
           batch_candidates.similarity, batch_candidates.driver_person_key, batch_candidates.candidate_person,
           first_value(batch_candidates.candidate_person) over per_rule as top_person,
           max(batch_candidates.similarity) over (partition by batch_candidates.lead_id, batch_candidates.rule_no) as best_similarity,
           /* One row per candidate person marked: distinct persons counted without a sort per lead and rule. */
           row_number() over (partition by batch_candidates.lead_id, batch_candidates.rule_no, batch_candidates.candidate_person) = 1 as first_of_person
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
           count(*) filter (where ranked.first_of_person) as persons,
           array_agg(ranked.candidate_person) filter (where ranked.first_of_person) as candidate_persons,
           /* Evidence as json text: appended here and in the decisions, parsed into jsonb once, in the lead's link
              (nested jsonb_build_object calls took apart and rebuilt the candidates at every level). */
           json_agg(json_build_object(
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
         end as verdict,
         null::integer as score, null::text as confidence_level, null::json as detail
  from per_rule
  /* The near-key rules' verdicts (ops.batch_near_candidates): only for leads the rules above leave without a person. */
  union all
  select near_rules.lead_id, near_rules.rule_no, near_rules.top_person, near_rules.best_similarity, near_rules.other_similarity,
         near_rules.persons, near_rules.candidate_persons, near_rules.candidates, near_rules.verdict, near_rules.score,
         near_rules.confidence_level, near_rules.detail
  from batch_near_rules as near_rules;
  /* Statistics on the columns joined and filtered on only: analysing the evidence columns cost more than the steps they serve. */
  analyze batch_rules (lead_id, rule_no, verdict, top_person);

  /*
   * 4. One decision per lead. Rules that name a person must agree; an ambiguous
   * rule lets a link through only when the named person is among its candidates.
   * A wrong link is worse than no link.
   */
  create temp table batch_decisions on commit drop as
  with combined as (
    select batch_rules.lead_id,
           /* 0, 1, or 2 for two or more (only "exactly one" and "at least one" are asked): no sort per lead. */
           case when count(*) filter (where batch_rules.verdict = 'named') = 0 then 0
                when min(batch_rules.top_person) filter (where batch_rules.verdict = 'named')
                     = max(batch_rules.top_person) filter (where batch_rules.verdict = 'named') then 1
                else 2 end as named_persons,
           min(batch_rules.top_person) filter (where batch_rules.verdict = 'named') as named_person,
           min(batch_rules.rule_no) filter (where batch_rules.verdict = 'named') as best_rule,
           bool_or(batch_rules.verdict = 'ambiguous') as any_ambiguous,
           bool_or(batch_rules.verdict = 'weak') as any_weak,
           bool_or(batch_rules.verdict = 'review') as any_review,
           max(round(batch_rules.best_similarity * 100)::integer) filter (where batch_rules.rule_no = 3) as r3b_score,
           max(batch_rules.score) filter (where batch_rules.verdict = 'named') as near_score,
           min(batch_rules.confidence_level) filter (where batch_rules.verdict = 'named') as near_confidence,
           json_object_agg(
             catalogue.match_rule,
             case when batch_rules.detail is null
                  then json_build_object('verdict', batch_rules.verdict,
                                         'best_similarity', round(batch_rules.best_similarity, 4),
                                         'candidates', batch_rules.candidates)
                  /* A near-key rule: the best candidate's score, and each compared field with its level and weight. */
                  else json_build_object('verdict', batch_rules.verdict,
                                         'best_similarity', round(batch_rules.best_similarity, 4),
                                         'score', batch_rules.score,
                                         'match', batch_rules.detail,
                                         'candidates', batch_rules.candidates) end) as rules
    from batch_rules
    join ops.match_rules as catalogue on catalogue.priority = batch_rules.rule_no
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
    from (select exact.lead_id, exact.rule_no, exact.candidate_person, exact.driver_id from batch_candidates as exact
          union all
          select near.lead_id, near.rule_no, near.candidate_person, near.driver_id from batch_near as near) as candidates
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
           checked.near_score,
           checked.near_confidence,
           checked.matched_driver_id,
           case
             when not batch_leads.lead_found then 'LEAD_NOT_FOUND'
             when batch_leads.gap_reason = 'resolved' then 'SKIP'
             /* A linked lead in the gap keeps its link and its person's origin is derived again (docs/matching-rules.md, section 4), whatever
                matching says: another person named is a finding (below), not a failure of the lead. */
             when batch_leads.linked_person_key is not null then 'REPAIR'
             when batch_leads.phone_norm is null and batch_leads.plate_norm is null then 'MISSING_KEYS'
             when checked.named_persons = 1 and checked.ambiguity_allows then 'LINK'
             when batch_leads.lead_date is null then 'INVALID_LEAD_DATE'
             when checked.named_persons >= 1 or checked.any_ambiguous then 'MULTIPLE_CANDIDATES'
             /* A near-key candidate in the review band (between match_review_threshold and match_link_threshold). */
             when checked.any_review then 'REVIEW_BAND'
             when checked.any_weak then 'WEAK_MATCH_ONLY'
             else 'NO_CANDIDATES'
           end as decision,
           json_build_object('phone_norm', batch_leads.phone_norm, 'plate_norm', batch_leads.plate_norm,
                             'lead_date', batch_leads.lead_date) as lead_keys,
           case when batch_leads.linked_person_key is not null and checked.named_persons = 1 and checked.ambiguity_allows
                     and checked.named_person <> batch_leads.linked_person_key::text
                then checked.named_person end as finding_person
    from batch_leads
    left join checked on checked.lead_id = batch_leads.lead_id
  ),
  /* 5. A new person key per unlinked driver a link names, even when several leads of the batch name it. */
  new_keys as materialized (
    select linked.matched_driver_id, canon.uuid_v7() as person_key
    from (select distinct decided.matched_driver_id
          from decided
          where decided.decision = 'LINK' and decided.named_person like 'driver:%') as linked
  )
  select decided.seq, decided.lead_id, decided.lead_created_at, decided.linked_person_key, decided.gap_reason,
         decided.named_person, decided.best_rule, decided.rules, decided.decision, decided.lead_keys, decided.matched_driver_id,
         decided.finding_person,
         catalogue.match_rule,
         /* A near-key rule's confidence follows from the thresholds (ops.batch_near_candidates). */
         coalesce(catalogue.confidence_level, decided.near_confidence) as confidence_level,
         /* A rule without a fixed score scores the match: R3B round(best similarity * 100), a near-key rule its
            Fellegi-Sunter score round(100 x match probability). */
         coalesce(catalogue.score, case when decided.best_rule >= 4 then decided.near_score else decided.r3b_score end) as match_score,
         /* The person each link or repair points to. */
         case
           when decided.decision = 'REPAIR' then decided.linked_person_key
           when decided.decision = 'LINK' and decided.named_person like 'driver:%' then new_keys.person_key
           when decided.decision = 'LINK' then decided.named_person::uuid
         end as person_key
  from decided
  left join ops.match_rules as catalogue on catalogue.priority = decided.best_rule
  left join new_keys on new_keys.matched_driver_id = decided.matched_driver_id
                        and decided.decision = 'LINK' and decided.named_person like 'driver:%';

  /* The new persons, with the keys of the driver each is created from (read with the candidates). */
  drop table if exists pg_temp.batch_new_persons;
  create temp table batch_new_persons on commit drop as
  select chosen.driver_id, chosen.person_key, chosen.confidence_level, chosen.best_rule, chosen.lead_id,
         driver_keys.driver_phone as phone_norm, driver_keys.driver_license as license_norm, driver_keys.driver_name as name_norm
  from (
    select distinct on (decisions.matched_driver_id)
           decisions.matched_driver_id as driver_id, decisions.person_key, decisions.confidence_level, decisions.best_rule, decisions.lead_id
    from batch_decisions as decisions
    where decisions.decision = 'LINK' and decisions.named_person like 'driver:%'
    order by decisions.matched_driver_id, decisions.best_rule, decisions.lead_id
  ) as chosen
  join (select distinct on (candidates.driver_id)
               candidates.driver_id, candidates.driver_phone, candidates.driver_license, candidates.driver_name
        from (select exact.driver_id, exact.driver_phone, exact.driver_license, exact.driver_name from batch_candidates as exact
              union all
              select near.driver_id, near.driver_phone, near.driver_license, near.driver_name from batch_near as near) as candidates
        order by candidates.driver_id) as driver_keys
    on driver_keys.driver_id = chosen.driver_id
  order by chosen.driver_id;

  /* Fresh statistics on the decisions keep the origin step on the person_key index
     (stale ones made it read every lead link per person: batches slowed as links grew). */
  analyze batch_decisions (lead_id, decision, person_key, named_person, matched_driver_id);
end
$$;
comment on function ops.batch_decide(numeric, numeric) is 'Steps 3 and 4 of ops.process_identity_batch: (re)creates pg_temp.batch_rules (a verdict per lead and rule), pg_temp.batch_decisions (a decision per lead and its person) and pg_temp.batch_new_persons (a new person per unlinked driver a link names). Internal: called inside the batch transaction only.';
