/*
 * Step 6 of ops.process_identity_batch: each person the batch creates
 * (pg_temp.batch_new_persons) gets the link of the driver it was created from,
 * with the DRIVER_MATCH rule's score and confidence from the rule catalogue and
 * the lead and rule that named the driver as evidence.
 */
create or replace function ops.batch_driver_links(p_run_id bigint)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  linked integer;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_new_persons (driver_id text, person_key uuid, confidence_level text, best_rule integer, lead_id text, phone_norm text, license_norm text, name_norm text)';
  insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
  select new_persons.person_key, 'drivers', new_persons.driver_id, driver_rule.match_rule, driver_rule.score, driver_rule.confidence_level,
         jsonb_build_object('lead_id', new_persons.lead_id, 'rule', lead_rule.match_rule),
         p_run_id
  from pg_temp.batch_new_persons as new_persons
  join ops.match_rules as driver_rule on driver_rule.match_rule = 'DRIVER_MATCH'
  left join ops.match_rules as lead_rule on lead_rule.priority = new_persons.best_rule
  order by new_persons.driver_id;
  get diagnostics linked = row_count;
  return linked;
end
$$;
comment on function ops.batch_driver_links(bigint) is 'Step 6 of ops.process_identity_batch: links the driver of each person the batch creates (pg_temp.batch_new_persons) with DRIVER_MATCH; returns how many. Internal: called inside the recovery batch transaction only.';
