/*
 * The other half of the reference of match_rule to the rule catalogue on
 * canon.identity_links and ops.identity_matching_jobs (ops.check_refs):
 * a rule still referred to by a link or a job row is neither deleted nor
 * renamed, as a foreign key's "on delete restrict" would refuse (SQLSTATE
 * 23503; a truncate is refused by the foreign keys of ops.lead_candidates and
 * the review tables). A writer holds a key-share lock on the catalogue rows it
 * names until it commits, so a delete waits for it and then sees its rows.
 * Catalogue changes are rare (a migration adding a rule): the check reads the
 * two tables without an index on match_rule.
 */
create or replace function ops.match_rule_in_use()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  rule text;
begin
  if tg_op = 'DELETE' or new.match_rule is distinct from old.match_rule then
    select coalesce(
             (select links.match_rule from canon.identity_links as links where links.match_rule = old.match_rule limit 1),
             (select jobs.match_rule from ops.identity_matching_jobs as jobs where jobs.match_rule = old.match_rule limit 1))
      into rule;
  end if;
  if rule is not null then
    raise exception '% on table "ops.match_rules" violates the reference of match_rule from canon.identity_links or ops.identity_matching_jobs', lower(tg_op)
      using errcode = 'foreign_key_violation',
            detail = format('match_rule %s is still referred to.', rule),
            schema = 'ops', table = 'match_rules', column = 'match_rule';
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$$;
comment on function ops.match_rule_in_use() is 'Trigger function on ops.match_rules: refuses (SQLSTATE 23503) to delete or rename a rule that a link or a job row still refers to (the catalogue side of ops.check_refs). Security definer.';

create or replace trigger match_rule_in_use
  before delete or update of match_rule on ops.match_rules
  for each row execute function ops.match_rule_in_use();
comment on trigger match_rule_in_use on ops.match_rules is 'A rule referred to by canon.identity_links or ops.identity_matching_jobs is not deleted or renamed (ops.match_rule_in_use).';
