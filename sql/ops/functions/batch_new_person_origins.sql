/*
 * The origins of the persons the batch creates (pg_temp.batch_new_persons) and
 * their history rows: a new person has no links but the batch's, so its origin
 * is the earliest of the batch's leads linked to it (lead_created_at, then
 * lead_id), read from the decisions without touching the shared links.
 * Step 8a of ops.process_identity_batch.
 */
create or replace function ops.batch_new_person_origins(p_run_id bigint)
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  perform 'PRAGMA:TABLE: batch_new_persons (driver_id text, person_key uuid, confidence_level text, best_rule integer, lead_id text, phone_norm text, license_norm text, name_norm text)';
  with earliest as (
    select distinct on (decisions.person_key)
           decisions.person_key, decisions.lead_id, decisions.lead_created_at, decisions.match_score, decisions.match_rule
    from batch_decisions as decisions
    join batch_new_persons as new_persons on new_persons.person_key = decisions.person_key
    where decisions.decision = 'LINK'
    order by decisions.person_key, decisions.lead_created_at asc nulls last, decisions.lead_id
  ),
  created as (
    insert into canon.identity_origin (person_key, origin_tag, origin_source_id, origin_created_at, origin_confidence, decided_by, decided_at, evidence)
    select earliest.person_key, 'cabinet_lead', earliest.lead_id, earliest.lead_created_at, earliest.match_score, 'system', now(),
           jsonb_build_object('rule', 'earliest_linked_lead', 'link_rule', earliest.match_rule, 'run_id', p_run_id)
    from earliest
    order by earliest.person_key
    returning person_key, origin_source_id
  )
  insert into canon.identity_origin_history (person_key, old_origin_tag, new_origin_tag, old_source_id, new_source_id, changed_by, change_reason, run_id)
  select created.person_key, null, 'cabinet_lead', null, created.origin_source_id, 'system', 'origin_created', p_run_id
  from created;
end
$$;
comment on function ops.batch_new_person_origins(bigint) is 'Writes the origin (the earliest linked lead of the batch) and its history row for each person of pg_temp.batch_new_persons. Internal: called inside the recovery batch transaction only.';
