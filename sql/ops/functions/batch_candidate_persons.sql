/*
 * The person each driver in pg_temp.batch_candidates stands for: a driver
 * already linked to a person stands for that person; an unlinked driver for a
 * new person of its own ('driver:<id>'). ops.batch_find_candidates reads it
 * with the candidates while matching; once the batch holds the lock, this
 * reads it again for the drivers p_driver_ids that batches committed meanwhile
 * linked to a person. Returns how many candidate rows changed.
 */
create or replace function ops.batch_candidate_persons(p_driver_ids text[])
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  changed integer;
begin
  with drivers as (
    select distinct batch_candidates.driver_id
    from batch_candidates
    where batch_candidates.driver_id = any (p_driver_ids)
  ),
  current_person as (
    select drivers.driver_id, driver_links.person_key
    from drivers
    left join canon.identity_links as driver_links
      on driver_links.source_table = 'drivers' and driver_links.source_pk = drivers.driver_id
  ),
  updated as (
    update batch_candidates
    set driver_person_key = current_person.person_key,
        candidate_person = ops.candidate_person(current_person.person_key, batch_candidates.driver_id)
    from current_person
    where current_person.driver_id = batch_candidates.driver_id
      and current_person.person_key is distinct from batch_candidates.driver_person_key
    returning 1
  )
  select count(*)::integer into changed from updated;
  return changed;
end
$$;
comment on function ops.batch_candidate_persons(text[]) is 'Sets again the person the drivers p_driver_ids of pg_temp.batch_candidates stand for (its linked person, else ''driver:<id>''); returns how many rows changed. Internal: called inside the batch transaction only.';
