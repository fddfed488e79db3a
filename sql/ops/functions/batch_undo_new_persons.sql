/*
 * Deletes again what ops.process_identity_batch wrote before the batch lock for
 * the new persons p_person_keys: their history, origins, the links of the
 * batch's leads to them, and the persons. Used when batches committed meanwhile
 * changed what the batch decided on: for all of them when it then writes
 * everything under the lock, for those whose driver another batch gave a person
 * when only that changed. Nobody else saw these rows (not committed), and
 * nothing else points to these persons (their driver links come under the lock).
 */
create or replace function ops.batch_undo_new_persons(p_person_keys uuid[])
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  delete from canon.identity_origin_history as history
  where history.person_key = any (p_person_keys);
  delete from canon.identity_origin as origins
  where origins.person_key = any (p_person_keys);
  delete from canon.identity_links as links
  where links.person_key = any (p_person_keys);
  delete from canon.identity_registry as registry
  where registry.person_key = any (p_person_keys);
end
$$;
comment on function ops.batch_undo_new_persons(uuid[]) is 'Deletes the rows the recovery batch wrote before its lock for the new persons p_person_keys (history, origins, lead links, persons). Internal: called inside the recovery batch transaction only.';
