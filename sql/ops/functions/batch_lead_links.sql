/*
 * Step 7 of ops.process_identity_batch: the links of the batch's leads decided
 * LINK (pg_temp.batch_decisions) to their persons, in one plain insert sorted
 * by the unique key. Nobody else of the run writes these leads
 * (ops.plan_recovery's components) and no other run overlaps (the recovery
 * lock), so no upsert's conflict check (~4 us a row) is paid: a lead linked by
 * hand meanwhile fails the insert with unique_violation, and the runner retries
 * the batch whole, which then reads that lead linked.
 */
create or replace function ops.batch_lead_links(p_run_id bigint, p_target_park text)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  linked integer;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
  select decisions.person_key, 'module_ct_cabinet_leads', decisions.lead_id, decisions.match_rule, decisions.match_score,
         decisions.confidence_level,
         ops.lead_link_evidence(decisions.match_rule, decisions.matched_driver_id, decisions.lead_keys, decisions.rules, p_target_park),
         p_run_id
  from pg_temp.batch_decisions as decisions
  where decisions.decision = 'LINK'
  order by decisions.lead_id;
  get diagnostics linked = row_count;
  return linked;
end
$$;
comment on function ops.batch_lead_links(bigint, text) is 'Step 7 of ops.process_identity_batch: links the batch''s LINK decisions (pg_temp.batch_decisions) to their persons with their evidence; returns how many. Internal: called inside the recovery batch transaction only.';
