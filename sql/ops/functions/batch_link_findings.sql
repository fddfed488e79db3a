/*
 * Step 9 of ops.process_identity_batch: a linked lead the batch repaired
 * (decision REPAIR) whose matching named another person than its own is a
 * finding (docs/matching-rules.md, section 4), recorded in ops.identity_link_findings (one row per lead,
 * the latest run's) and read through ops.v_identity_link_findings; the link is
 * never re-pointed. A repaired lead whose matching no longer names another
 * person loses its finding.
 */
create or replace function ops.batch_link_findings(p_run_id bigint)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  found integer;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  delete from ops.identity_link_findings as findings
  using pg_temp.batch_decisions as decisions
  where decisions.lead_id = findings.lead_id and decisions.decision = 'REPAIR' and decisions.finding_person is null;

  insert into ops.identity_link_findings as findings (lead_id, linked_person_key, named_person, match_rule, run_id, found_at)
  select decisions.lead_id, decisions.linked_person_key, decisions.finding_person, catalogue.match_rule, p_run_id, now()
  from pg_temp.batch_decisions as decisions
  join ops.match_rules as catalogue on catalogue.priority = decisions.best_rule
  where decisions.decision in ('REPAIR', 'CONFLICTING_LINK') and decisions.finding_person is not null
  order by decisions.lead_id
  on conflict (lead_id) do update
  set linked_person_key = excluded.linked_person_key,
      named_person = excluded.named_person,
      match_rule = excluded.match_rule,
      run_id = excluded.run_id,
      found_at = excluded.found_at;
  get diagnostics found = row_count;
  return found;
end
$$;
comment on function ops.batch_link_findings(bigint) is 'Step 9 of ops.process_identity_batch: records in ops.identity_link_findings each repaired lead whose matching named another person (and clears the finding of one that no longer does); returns how many findings. Internal: called inside the recovery batch transaction only.';
