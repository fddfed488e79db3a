/*
 * The reference of match_rule to the rule catalogue (ops.match_rules) on the
 * two tables every recovery batch writes by the thousand: canon.identity_links
 * and ops.identity_matching_jobs. A foreign key checks each row on its own (a
 * query and a key-share lock of the catalogue row per row): at 1M leads the
 * two foreign keys cost 40-50 ms of a 700 ms batch (identity_links' 4,300
 * driver and 4,300 lead links, 5,000 job rows), about 9 s of a run. This
 * statement trigger does the same once a statement: it locks the catalogue
 * rows the statement names (key share, as the foreign key's check does, so
 * that a rule in use cannot be deleted before the transaction ends) and
 * refuses, with the foreign key's SQLSTATE 23503, a statement naming a rule
 * that is not in the catalogue. Its other half, refusing to delete or rename a
 * rule still referred to, is ops.match_rule_in_use on ops.match_rules.
 * (ops.lead_candidates, ops.recovery's smaller tables and ops.match_weights
 * keep their foreign keys.)
 *
 * PostgreSQL allows neither a column list nor several events on a trigger with
 * transition tables: one trigger per table and event. Security definer with a
 * pinned search_path: the lock needs a right on the catalogue that the
 * writers' roles do not have. The triggers are (re)created here, after the
 * function (`idgap migrate` drops a changed function with cascade).
 */
create or replace function ops.check_match_rule_refs()
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
  perform 'PRAGMA:TABLE: new_rows (match_rule text)';
  with named as (
    select distinct new_rows.match_rule from new_rows where new_rows.match_rule is not null
  ),
  locked as (
    select rules.match_rule
    from ops.match_rules as rules
    where rules.match_rule in (select named.match_rule from named)
    for key share
  )
  select string_agg(named.match_rule, ', ' order by named.match_rule) into unknown
  from named
  where named.match_rule not in (select locked.match_rule from locked);
  if unknown is not null then
    raise exception 'insert or update on table "%.%" violates the reference of match_rule to ops.match_rules', tg_table_schema, tg_table_name
      using errcode = 'foreign_key_violation',
            detail = format('match_rule %s is not in the rule catalogue (ops.match_rules).', unknown),
            schema = tg_table_schema, table = tg_table_name, column = 'match_rule';
  end if;
  return null;
end
$$;
comment on function ops.check_match_rule_refs() is 'Statement trigger function (insert and update of canon.identity_links and ops.identity_matching_jobs): the reference of match_rule to ops.match_rules, checked once a statement: key-share locks the catalogue rows named, refuses (SQLSTATE 23503) a rule not in the catalogue. Security definer.';

create or replace trigger match_rule_refs_insert
  after insert on canon.identity_links
  referencing new table as new_rows
  for each statement execute function ops.check_match_rule_refs();
comment on trigger match_rule_refs_insert on canon.identity_links is 'match_rule refers to ops.match_rules: checked once a statement (ops.check_match_rule_refs).';
create or replace trigger match_rule_refs_update
  after update on canon.identity_links
  referencing new table as new_rows
  for each statement execute function ops.check_match_rule_refs();
comment on trigger match_rule_refs_update on canon.identity_links is 'match_rule refers to ops.match_rules: checked once a statement (ops.check_match_rule_refs).';
create or replace trigger match_rule_refs_insert
  after insert on ops.identity_matching_jobs
  referencing new table as new_rows
  for each statement execute function ops.check_match_rule_refs();
comment on trigger match_rule_refs_insert on ops.identity_matching_jobs is 'match_rule refers to ops.match_rules: checked once a statement (ops.check_match_rule_refs).';
create or replace trigger match_rule_refs_update
  after update on ops.identity_matching_jobs
  referencing new table as new_rows
  for each statement execute function ops.check_match_rule_refs();
comment on trigger match_rule_refs_update on ops.identity_matching_jobs is 'match_rule refers to ops.match_rules: checked once a statement (ops.check_match_rule_refs).';
