--! Previous: sha1:265f7af3968c97075b09550fce523cbb9eb1bd50
--! Hash: sha1:05753eea88d8624fd2f28b0b1d3faf51e04b2f79
--! Message: one lead per lead_id: unique coalesce(external_id, id::text), and a numeric external_id only as its own lead's id

/*
 * Every table and view keys a lead by lead_id = coalesce(external_id, id::text)
 * (SPEC 1). Two leads could share one: an external_id written as a bigint
 * equal to the id of a lead without an external_id, inserted before it or
 * after it (its generated id reaching that number later), and the engine then
 * read the other lead's keys. Two guards:
 *
 * - the lead_id index becomes unique: no two rows with one lead_id, whatever
 *   wrote them (idgap import, the fleet's own loader, psql);
 * - a check makes an id and another lead's numeric external_id unable to meet,
 *   so that an insert without external_id is never refused because of a
 *   number someone else chose: an external_id spelled as id::text spells (a
 *   bigint, no leading zero, no sign other than '-') must be the row's own id.
 *   External ids are 32-character hex in practice (SPEC 2.1); '0042' or 'L42'
 *   stay accepted. The cheap tests come first: a 32-character id is settled by
 *   its length.
 *
 * An existing database where two leads already share a lead_id stops here with
 * the list: which lead keeps the lead_id is the operator's call (the engine's
 * links point at it), not the migration's.
 */
do $$
declare
  clashes text;
begin
  select string_agg(format('%s (lead ids %s)', shared.lead_id, shared.ids), '; ')
  into clashes
  from (
    select coalesce(leads.external_id, leads.id::text) as lead_id, string_agg(leads.id::text, ', ' order by leads.id) as ids
    from public.module_ct_cabinet_leads as leads
    group by 1
    having count(*) > 1
    order by 1
    limit 20
  ) as shared;
  if clashes is not null then
    raise exception 'two or more leads share a lead_id = coalesce(external_id, id::text): %', clashes
      using hint = 'give each of them a distinct non-numeric external_id (update public.module_ct_cabinet_leads set external_id = ... where id = ...), then run idgap migrate again';
  end if;
end $$;

drop index if exists public.module_ct_cabinet_leads_lead_id_idx;
create unique index if not exists module_ct_cabinet_leads_lead_id_key
  on public.module_ct_cabinet_leads ((coalesce(external_id, id::text)));
comment on index public.module_ct_cabinet_leads_lead_id_key is 'One lead per lead_id = coalesce(external_id, id::text), the key every table and view uses for a lead.';

/* NOT VALID first, then validated when the rows already obey it: existing numeric external ids (unique by the index above) do not stop the migration, and new rows are checked either way. */
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'module_ct_cabinet_leads_external_id_not_another_id'
                 and conrelid = 'public.module_ct_cabinet_leads'::regclass) then
    alter table public.module_ct_cabinet_leads add constraint module_ct_cabinet_leads_external_id_not_another_id
      check (external_id is null or length(external_id) > 20 or external_id = id::text or external_id !~ '^(0|-?[1-9][0-9]{0,18})$') not valid;
  end if;
  if not exists (select 1 from public.module_ct_cabinet_leads as leads
                 where not (leads.external_id is null or length(leads.external_id) > 20 or leads.external_id = leads.id::text
                            or leads.external_id !~ '^(0|-?[1-9][0-9]{0,18})$')) then
    alter table public.module_ct_cabinet_leads validate constraint module_ct_cabinet_leads_external_id_not_another_id;
  else
    raise warning 'public.module_ct_cabinet_leads holds external ids written as numbers other than their own lead''s id: they stay, and are unique by lead_id; new ones are refused';
  end if;
end $$;
comment on constraint module_ct_cabinet_leads_external_id_not_another_id on public.module_ct_cabinet_leads is
  'An external_id spelled like an id (id::text) must be the row''s own id: it could otherwise be another lead''s lead_id, now or after a later insert.';
