/*
 * The registry's side of the reference of person_key from canon.identity_links
 * and canon.identity_origin (ops.check_refs), as their foreign keys
 * did it:
 *   - a person that a link refers to is not deleted ("on delete restrict");
 *   - a person's origin is deleted with the person ("on delete cascade");
 *   - a person_key that a link or an origin refers to is not changed;
 *   - the registry is not truncated without the links and origins (an after
 *     trigger: a truncate of the three tables together passes).
 * Refusals with the foreign key's SQLSTATE 23503. A writer holds a key-share
 * lock on the registry rows it names until it commits, so a delete waits for
 * it and then sees its rows. Deleting persons is rare (by hand): the check
 * probes the links' person_key index.
 */
create or replace function canon.person_in_use()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  referrer text;
begin
  if tg_op = 'TRUNCATE' then
    if exists (select 1 from canon.identity_links) or exists (select 1 from canon.identity_origin) then
      raise exception 'truncate on table "canon.identity_registry" violates the reference of person_key from canon.identity_links or canon.identity_origin'
        using errcode = 'foreign_key_violation',
              detail = 'Links or origins still refer to the registry: truncate them with it.',
              schema = 'canon', table = 'identity_registry', column = 'person_key';
    end if;
    return null;
  end if;
  if tg_op = 'DELETE' or new.person_key is distinct from old.person_key then
    select coalesce(
             (select 'canon.identity_links' from canon.identity_links as links where links.person_key = old.person_key limit 1),
             (select 'canon.identity_origin' from canon.identity_origin as origins
              where origins.person_key = old.person_key and tg_op = 'UPDATE'))
      into referrer;
    if referrer is not null then
      raise exception '% on table "canon.identity_registry" violates the reference of person_key from %', lower(tg_op), referrer
        using errcode = 'foreign_key_violation',
              detail = format('person_key %s is still referred to from %s.', old.person_key, referrer),
              schema = 'canon', table = 'identity_registry', column = 'person_key';
    end if;
  end if;
  if tg_op = 'DELETE' then
    delete from canon.identity_origin as origins where origins.person_key = old.person_key;
    return old;
  end if;
  return new;
end
$$;
comment on function canon.person_in_use() is 'Trigger function on canon.identity_registry (the registry''s side of ops.check_refs): refuses (SQLSTATE 23503) to delete a person a link refers to, to change a person_key in use, or to truncate the registry without its links and origins; deletes a deleted person''s origin. Security definer.';

create or replace trigger person_in_use
  before delete or update of person_key on canon.identity_registry
  for each row execute function canon.person_in_use();
comment on trigger person_in_use on canon.identity_registry is 'A person referred to by canon.identity_links is not deleted, a person_key in use is not changed, and a deleted person''s origin goes with it (canon.person_in_use).';
create or replace trigger person_in_use_truncate
  after truncate on canon.identity_registry
  for each statement execute function canon.person_in_use();
comment on trigger person_in_use_truncate on canon.identity_registry is 'The registry is not truncated while links or origins refer to it (canon.person_in_use).';
