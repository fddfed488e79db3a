/*
 * The gap state of the batch's leads (pg_temp.batch_leads): the person a lead
 * is linked to, that person's origin and the gap reason, read from the shared
 * tables now. ops.process_identity_batch calls it for every lead while matching
 * (without the batch lock) and, once it holds the lock, again for the leads
 * p_lead_ids that batches committed meanwhile may have changed. Only rows whose
 * state changed are written. Returns how many leads changed, and how many of
 * them went in or out of the resolved state (their candidates must be found again).
 */
create or replace function ops.batch_lead_state(p_lead_ids text[] default null, out changed integer, out matchability_changed integer)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  with current_state as (
    select batch_leads.lead_id,
           batch_leads.gap_reason as old_gap_reason,
           lead_links.person_key as linked_person_key,
           origins.origin_tag,
           origins.origin_source_id,
           origins.decided_by as origin_decided_by,
           case
             when not batch_leads.lead_found then null
             when lead_links.person_key is null then 'no_identity'
             when origins.person_key is null or origins.origin_tag <> 'cabinet_lead' then 'no_origin'
             when origin_links.person_key is distinct from lead_links.person_key then 'inconsistent_origin'
             else 'resolved'
           end as gap_reason
    from batch_leads
    left join canon.identity_links as lead_links
      on lead_links.source_table = 'module_ct_cabinet_leads' and lead_links.source_pk = batch_leads.lead_id
    left join canon.identity_origin as origins on origins.person_key = lead_links.person_key
    left join canon.identity_links as origin_links
      on origin_links.source_table = 'module_ct_cabinet_leads' and origin_links.source_pk = origins.origin_source_id
         and origins.origin_tag = 'cabinet_lead'
    where p_lead_ids is null or batch_leads.lead_id = any (p_lead_ids)
  ),
  updated as (
    update batch_leads
    set linked_person_key = current_state.linked_person_key,
        origin_tag = current_state.origin_tag,
        origin_source_id = current_state.origin_source_id,
        origin_decided_by = current_state.origin_decided_by,
        gap_reason = current_state.gap_reason
    from current_state
    where current_state.lead_id = batch_leads.lead_id
      and (batch_leads.linked_person_key, batch_leads.origin_tag, batch_leads.origin_source_id,
           batch_leads.origin_decided_by, batch_leads.gap_reason)
          is distinct from
          (current_state.linked_person_key, current_state.origin_tag, current_state.origin_source_id,
           current_state.origin_decided_by, current_state.gap_reason)
    returning (current_state.old_gap_reason = 'resolved') is distinct from (current_state.gap_reason = 'resolved') as flipped
  )
  select count(*)::integer, (count(*) filter (where updated.flipped))::integer
  into changed, matchability_changed
  from updated;
end
$$;
comment on function ops.batch_lead_state(text[]) is 'Sets the gap state (linked person, origin, gap_reason) of the leads in pg_temp.batch_leads (all, or those of p_lead_ids) from the shared tables; returns how many leads changed and how many went in or out of resolved. Internal: called inside the batch transaction only.';
