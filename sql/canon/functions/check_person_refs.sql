/*
 * The reference of person_key to the registry (canon.identity_registry) on the
 * two tables every recovery batch writes by the thousand: canon.identity_links
 * and canon.identity_origin. A foreign key checks each row on its own (a query
 * and a key-share lock of the registry row per row): at 1M leads the two
 * foreign keys took 55-60 ms of a 5,000-lead batch (~12,600 rows: driver
 * links, lead links, origins). This statement trigger does the same once a
 * statement: it key-share locks the registry rows the statement names, as the
 * foreign key's check does (a person in use cannot be deleted before the
 * writer's transaction ends), and refuses, with the foreign key's SQLSTATE
 * 23503, a statement naming a person that is not in the registry. Its other
 * half, on the registry's side (refusing to delete a person with links, the
 * origin deleted with its person, refusing to change a person_key in use or
 * to truncate the registry alone), is canon.person_in_use.
 *
 * PostgreSQL allows neither a column list nor several events on a trigger with
 * transition tables: one trigger per table and event. Security definer with a
 * pinned search_path: the lock needs a right on the registry that the writers'
 * roles may not have. The triggers are (re)created here, after the function
 * (`idgap migrate` drops a changed function with cascade).
 */
create or replace function canon.check_person_refs()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  unknown text;
begin
  /* The statement's transition table, for plpgsql_check (which cannot see it; a no-op when run). */
  perform 'PRAGMA:TABLE: new_rows (person_key uuid)';
  with named as (
    select distinct new_rows.person_key from new_rows
  ),
  locked as (
    select registry.person_key
    from canon.identity_registry as registry
    where registry.person_key in (select named.person_key from named)
    for key share
  )
  select string_agg(named.person_key::text, ', ' order by named.person_key) into unknown
  from named
  where named.person_key not in (select locked.person_key from locked);
  if unknown is not null then
    raise exception 'insert or update on table "%.%" violates the reference of person_key to canon.identity_registry', tg_table_schema, tg_table_name
      using errcode = 'foreign_key_violation',
            detail = format('person_key %s is not in the registry (canon.identity_registry).', left(unknown, 400)),
            schema = tg_table_schema, table = tg_table_name, column = 'person_key';
  end if;
  return null;
end
$$;
comment on function canon.check_person_refs() is 'Statement trigger function (insert and update of canon.identity_links and canon.identity_origin): the reference of person_key to canon.identity_registry, checked once a statement: key-share locks the registry rows named, refuses (SQLSTATE 23503) a person not in the registry. Security definer.';

create or replace trigger person_refs_insert
  after insert on canon.identity_links
  referencing new table as new_rows
  for each statement execute function canon.check_person_refs();
comment on trigger person_refs_insert on canon.identity_links is 'person_key refers to canon.identity_registry: checked once a statement (canon.check_person_refs).';
create or replace trigger person_refs_update
  after update on canon.identity_links
  referencing new table as new_rows
  for each statement execute function canon.check_person_refs();
comment on trigger person_refs_update on canon.identity_links is 'person_key refers to canon.identity_registry: checked once a statement (canon.check_person_refs).';
create or replace trigger person_refs_insert
  after insert on canon.identity_origin
  referencing new table as new_rows
  for each statement execute function canon.check_person_refs();
comment on trigger person_refs_insert on canon.identity_origin is 'person_key refers to canon.identity_registry: checked once a statement (canon.check_person_refs).';
create or replace trigger person_refs_update
  after update on canon.identity_origin
  referencing new table as new_rows
  for each statement execute function canon.check_person_refs();
comment on trigger person_refs_update on canon.identity_origin is 'person_key refers to canon.identity_registry: checked once a statement (canon.check_person_refs).';
