/*
 * A reference checked once a statement instead of a foreign key's check per
 * row, on the tables every recovery batch writes by the thousand. A foreign
 * key runs a query and takes a key-share lock of the referenced row for each
 * row: at 1M leads that cost 40-50 ms of a 700 ms batch for match_rule on the
 * links and job rows (4,300 driver links, 4,300 lead links, 5,000 job rows),
 * and the person_key foreign keys of the links and origins 55-60 ms of a batch
 * (~12,600 rows). This statement trigger does the same once a statement: it
 * key-share locks the referenced rows the statement names, as the foreign
 * key's check does (a row in use cannot be deleted before the writer's
 * transaction ends), and refuses, with the foreign key's SQLSTATE 23503, a
 * statement naming a value the referenced table does not hold. The referenced
 * table's side (refusing to delete or change a row still referred to) is
 * ops.match_rule_in_use on the rule catalogue and canon.person_in_use on the
 * registry.
 *
 * Arguments: the column (named alike in both tables) and the referenced table:
 *   match_rule -> ops.match_rules          on canon.identity_links, ops.identity_matching_jobs
 *   person_key -> canon.identity_registry  on canon.identity_links, canon.identity_origin
 * (ops.lead_candidates and the smaller tables keep their foreign keys.)
 *
 * PostgreSQL allows neither a column list nor several events on a trigger with
 * transition tables: one trigger per table, event and reference. Security
 * definer with a pinned search_path: the lock needs a right on the referenced
 * table that the writers' roles may not have. The triggers are (re)created
 * here, after the function (`idgap migrate` drops a changed function with
 * cascade).
 */
create or replace function ops.check_refs()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  ref_column text := tg_argv[0];
  ref_table regclass := tg_argv[1]::regclass;
  unknown text;
begin
  /* new_rows, the statement's transition table, is read by the dynamic statement (the column is the trigger's argument). */
  execute format($refs$
    with named as (
      select distinct new_rows.%1$I as ref from new_rows where new_rows.%1$I is not null
    ),
    locked as (
      select referenced.%1$I as ref
      from %2$s as referenced
      where referenced.%1$I in (select named.ref from named)
      for key share
    )
    select string_agg(named.ref::text, ', ' order by named.ref)
    from named
    where named.ref not in (select locked.ref from locked)
    $refs$, ref_column, ref_table)
    into unknown;
  if unknown is not null then
    raise exception 'insert or update on table "%.%" violates the reference of % to %', tg_table_schema, tg_table_name, ref_column, ref_table
      using errcode = 'foreign_key_violation',
            detail = format('%s %s is not in %s.', ref_column, left(unknown, 400), ref_table),
            schema = tg_table_schema, table = tg_table_name, column = ref_column;
  end if;
  return null;
end
$$;
comment on function ops.check_refs() is 'Statement trigger function (after insert and update, with the new rows as new_rows; arguments: the column and the referenced table): the reference checked once a statement: key-share locks the referenced rows named, refuses (SQLSTATE 23503) a value the referenced table does not hold. On match_rule (canon.identity_links, ops.identity_matching_jobs -> ops.match_rules) and person_key (canon.identity_links, canon.identity_origin -> canon.identity_registry). Security definer.';

/* The eight triggers: each reference on each table, after insert and after update. */
do $triggers$
declare
  ref record;
begin
  for ref in
    select refs.tbl, refs.col, refs.referenced, refs.prefix || '_' || events.event as name, events.event
    from (values ('canon.identity_links', 'match_rule', 'ops.match_rules', 'match_rule_refs'),
                 ('ops.identity_matching_jobs', 'match_rule', 'ops.match_rules', 'match_rule_refs'),
                 ('canon.identity_links', 'person_key', 'canon.identity_registry', 'person_refs'),
                 ('canon.identity_origin', 'person_key', 'canon.identity_registry', 'person_refs')) as refs (tbl, col, referenced, prefix)
    cross join (values ('insert'), ('update')) as events (event)
  loop
    execute format('create or replace trigger %I after %s on %s referencing new table as new_rows '
                   'for each statement execute function ops.check_refs(%L, %L)', ref.name, ref.event, ref.tbl, ref.col, ref.referenced);
    execute format('comment on trigger %I on %s is %L', ref.name, ref.tbl,
                   format('%s refers to %s: checked once a statement (ops.check_refs).', ref.col, ref.referenced));
  end loop;
end
$triggers$;
