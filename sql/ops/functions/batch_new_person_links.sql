/*
 * The links of the batch's leads to the persons it creates (the LINK decisions
 * naming a person of pg_temp.batch_new_persons), written by
 * ops.process_identity_batch before the batch lock. p_upsert false: a plain
 * insert, which fails with unique_violation if someone linked one of the leads
 * meanwhile; true: those leads are left alone and returned (the batch reads
 * them again under the lock). The batch's leads are its own (disjoint queue
 * rows, no lead queued by two running runs), so the plain insert is the rule
 * and the upsert, whose conflict check costs ~4 us a row, the exception.
 */
create or replace function ops.batch_new_person_links(p_run_id bigint, target_park text, p_upsert boolean)
returns text[]
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  conflicts text[];
begin
  execute format($sql$
    with inserted as (
      insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence, run_id)
      select decisions.person_key, 'module_ct_cabinet_leads', decisions.lead_id, decisions.match_rule, decisions.match_score,
             decisions.confidence_level,
             jsonb_build_object('rule', decisions.match_rule, 'driver_id', decisions.matched_driver_id,
                                'lead', decisions.lead_keys, 'rules', decisions.rules, 'target_park_id', $2::text),
             $1
      from batch_decisions as decisions
      join batch_new_persons as new_persons on new_persons.person_key = decisions.person_key
      where decisions.decision = 'LINK'
      order by decisions.lead_id
      %s
      returning source_pk
    )
    select array_agg(decisions.lead_id)
    from batch_decisions as decisions
    join batch_new_persons as new_persons on new_persons.person_key = decisions.person_key
    where decisions.decision = 'LINK'
      and not exists (select 1 from inserted where inserted.source_pk = decisions.lead_id)
    $sql$, case when p_upsert then 'on conflict (source_table, source_pk) do nothing' else '' end)
  into conflicts
  using p_run_id, target_park;
  return conflicts;
end
$$;
comment on function ops.batch_new_person_links(bigint, text, boolean) is 'Links the recovery batch''s leads to the persons it creates (pg_temp.batch_new_persons); plain insert, or with p_upsert the leads linked meanwhile are skipped and returned. Internal: called inside the recovery batch transaction only.';
