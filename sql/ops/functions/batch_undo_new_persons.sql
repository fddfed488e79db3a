/*
 * Deletes again what ops.process_identity_batch wrote before the batch lock for
 * its new persons (pg_temp.batch_new_persons): their history, origins, the
 * links of the batch's leads to them, and the persons. Used when batches
 * committed meanwhile changed what the batch decided on: it then writes
 * everything under the lock. Nobody else saw these rows (not committed), and
 * nothing else points to these persons (their driver links come under the lock).
 */
create or replace function ops.batch_undo_new_persons()
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  delete from canon.identity_origin_history as history
  using batch_new_persons as new_persons
  where history.person_key = new_persons.person_key;
  delete from canon.identity_origin as origins
  using batch_new_persons as new_persons
  where origins.person_key = new_persons.person_key;
  delete from canon.identity_links as links
  using batch_new_persons as new_persons
  where links.person_key = new_persons.person_key;
  delete from canon.identity_registry as registry
  using batch_new_persons as new_persons
  where registry.person_key = new_persons.person_key;
end
$$;
comment on function ops.batch_undo_new_persons() is 'Deletes the rows the recovery batch wrote before its lock for the persons of pg_temp.batch_new_persons (history, origins, lead links, persons). Internal: called inside the recovery batch transaction only.';
