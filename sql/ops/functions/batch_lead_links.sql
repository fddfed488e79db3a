/*
 * The links of the batch's leads decided LINK (pg_temp.batch_decisions) to
 * their persons, for p_persons 'new' (the persons the batch creates,
 * pg_temp.batch_new_persons), 'existing' (the others) or 'all'.
 * ops.process_identity_batch writes the 'new' ones before the batch lock with
 * p_upsert false: a plain insert, which fails with unique_violation if someone
 * linked one of the leads meanwhile (the batch's leads are its own: disjoint
 * queue rows, no lead queued by two running runs, so that is the exception and
 * an upsert's conflict check, ~4 us a row, is not paid every time). With
 * p_upsert true the leads linked meanwhile are left alone; either way the
 * leads not linked are returned.
 */
create or replace function ops.batch_lead_links(p_run_id bigint, target_park text, p_persons text, p_upsert boolean)
returns text[]
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  not_linked text[];
begin
  if p_persons not in ('new', 'existing', 'all') then
    raise exception 'p_persons must be new, existing or all (got %)', p_persons using errcode = 'invalid_parameter_value';
  end if;
  execute format($sql$
    with chosen as (
      select decisions.*
      from batch_decisions as decisions
      left join batch_new_persons as new_persons on new_persons.person_key = decisions.person_key
      where decisions.decision = 'LINK'
        and ($3 = 'all' or ($3 = 'new') = (new_persons.person_key is not null))
    ),
    inserted as (
      insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
      select chosen.person_key, 'module_ct_cabinet_leads', chosen.lead_id, chosen.match_rule, chosen.match_score,
             chosen.confidence_level,
             ops.lead_link_evidence(chosen.match_rule, chosen.matched_driver_id, chosen.lead_keys, chosen.rules, $2::text),
             $1
      from chosen
      order by chosen.lead_id
      %s
      returning source_pk
    )
    select array_agg(chosen.lead_id)
    from chosen
    where not exists (select 1 from inserted where inserted.source_pk = chosen.lead_id)
    $sql$, case when p_upsert then 'on conflict (source_table, source_pk) do nothing' else '' end)
  into not_linked
  using p_run_id, target_park, p_persons;
  return not_linked;
end
$$;
comment on function ops.batch_lead_links(bigint, text, text, boolean) is 'Links the recovery batch''s LINK decisions to their persons (new: the persons the batch creates; existing; all), by plain insert or, with p_upsert, leaving alone the leads linked meanwhile; returns the leads not linked. Internal: called inside the recovery batch transaction only.';
