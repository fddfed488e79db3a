/*
 * The registry rows of the persons the recovery batch creates
 * (pg_temp.batch_new_persons, keys chosen with the decisions), with the keys of
 * the driver each was created from. Step 5 of ops.process_identity_batch.
 */
create or replace function ops.batch_register_new_persons()
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_new_persons (driver_id text, person_key uuid, confidence_level text, best_rule integer, lead_id text, phone_norm text, license_norm text, name_norm text)';
  insert into canon.identity_registry (person_key, confidence_level, primary_phone, primary_license, primary_full_name)
  select new_persons.person_key, new_persons.confidence_level, new_persons.phone_norm, new_persons.license_norm, new_persons.name_norm
  from batch_new_persons as new_persons
  order by new_persons.person_key;
end
$$;
comment on function ops.batch_register_new_persons() is 'Inserts the registry rows of the persons the recovery batch creates (pg_temp.batch_new_persons). Internal: called inside the recovery batch transaction only.';
