/*
 * Step 10b of ops.process_identity_batch: the review store (ops.lead_candidates)
 * for the batch's leads. The batch evaluated every one of them, so their rows
 * are replaced: deleted, then written again for the leads that ended
 * WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES or REVIEW_BAND, one row per candidate
 * driver (the exact rules' candidates of pg_temp.batch_candidates and the
 * near-key ones of pg_temp.batch_near; a driver found by two rules keeps the
 * first), ranked by score (ops.pair_score's Fellegi-Sunter score, the scale of
 * match_score), then weight, then driver. A linked lead, or one with no plausible
 * candidate, keeps no row. Pairs a reviewer rejected are not among the
 * candidates (ops.batch_find_candidates, ops.batch_near_candidates).
 * Returns how many candidate rows were written.
 */
create or replace function ops.batch_review_candidates(p_run_id bigint, target_park text, window_before integer, window_after integer,
                                                       threshold numeric)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  written integer;
  weights jsonb := ops.match_weights_json();
begin
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  perform 'PRAGMA:TABLE: batch_candidates (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text)';
  perform 'PRAGMA:TABLE: batch_near (lead_id text, rule_no integer, driver_id text, park_id text, similarity numeric, driver_phone text, driver_license text, driver_name text, driver_person_key uuid, candidate_person text, score integer, weight numeric, evidence jsonb)';
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  /*
   * An index probe per lead, through the array: as a semi-join the planner hashed or merged the whole store for every
   * batch (87,841 rows, 67 MB at the end of a 1M run: 25-36 ms a batch against 2.7 ms), so a run grew slower as the
   * store filled, and a daily run paid for every candidate kept since.
   */
  delete from ops.lead_candidates as stored
  where stored.lead_id = any (array(select batch_leads.lead_id from batch_leads));

  with review as (
    select decisions.lead_id, decisions.decision, batch_leads.phone_norm, batch_leads.plate_norm, batch_leads.lead_date,
           canon.name_tokens(batch_leads.lead_name) as lead_tokens
    from batch_decisions as decisions
    join batch_leads on batch_leads.lead_id = decisions.lead_id
    where decisions.decision in ('WEAK_MATCH_ONLY', 'MULTIPLE_CANDIDATES', 'REVIEW_BAND')
  ),
  exact_scored as (
    select exact.lead_id, exact.rule_no, exact.driver_id, exact.driver_person_key,
           ops.pair_score(weights, target_park, threshold, window_before, window_after,
                          review.phone_norm, review.plate_norm, review.lead_tokens, review.lead_date,
                          idx.phone_norm, idx.plate_norm, idx.name_tokens, idx.hire_date, idx.park_id)
             || jsonb_build_object('similarity', round(exact.similarity, 4)) as evidence
    from batch_candidates as exact
    join review on review.lead_id = exact.lead_id
    join canon.drivers_index as idx on idx.driver_id = exact.driver_id
  ),
  candidates as (
    select exact_scored.lead_id, exact_scored.rule_no, exact_scored.driver_id, exact_scored.driver_person_key, exact_scored.evidence
    from exact_scored
    union all
    select near.lead_id, near.rule_no, near.driver_id, near.driver_person_key,
           near.evidence || jsonb_build_object('similarity', near.similarity)
    from batch_near as near
    where near.lead_id in (select review.lead_id from review)
  ),
  first_rule as (
    select distinct on (candidates.lead_id, candidates.driver_id) candidates.*
    from candidates
    order by candidates.lead_id, candidates.driver_id, candidates.rule_no
  )
  insert into ops.lead_candidates (lead_id, candidate_rank, driver_id, person_key, match_rule, score, evidence, queue_reason, run_id, evaluated_at)
  select first_rule.lead_id,
         row_number() over (partition by first_rule.lead_id
                            order by (first_rule.evidence ->> 'score')::integer desc, (first_rule.evidence ->> 'weight')::numeric desc,
                                     first_rule.driver_id)::integer,
         first_rule.driver_id, first_rule.driver_person_key, catalogue.match_rule, (first_rule.evidence ->> 'score')::integer,
         first_rule.evidence || jsonb_build_object('rule', catalogue.match_rule), review.decision, p_run_id, now()
  from first_rule
  join review on review.lead_id = first_rule.lead_id
  join ops.match_rules as catalogue on catalogue.priority = first_rule.rule_no;
  get diagnostics written = row_count;
  return written;
end
$$;
comment on function ops.batch_review_candidates(bigint, text, integer, integer, numeric) is 'Step 10b of ops.process_identity_batch: replaces the review store rows (ops.lead_candidates) of the batch''s leads: ranked, scored candidates for the leads that ended WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES or REVIEW_BAND, none for the others. Returns how many rows. Internal: called inside the batch transaction only.';
