/*
 * The gap state of the leads p_lead_ids of the batch (pg_temp.batch_leads),
 * read again from the shared tables (ops.lead_gap_state): the batch's leads
 * statement reads every lead's state while matching; once the batch holds the
 * lock, this reads again the leads that batches committed meanwhile may have
 * changed. Only rows whose state changed are written. Returns how many leads
 * changed, and how many of them went in or out of the resolved state (their
 * candidates must be found again).
 */
create or replace function ops.batch_lead_state(p_lead_ids text[], out changed integer, out matchability_changed integer)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  with current_state as (
    select batch_leads.lead_id, batch_leads.gap_reason as old_gap_reason, state.*
    from batch_leads
    cross join lateral ops.lead_gap_state(batch_leads.lead_id, batch_leads.lead_found) as state
    where batch_leads.lead_id = any (p_lead_ids)
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
comment on function ops.batch_lead_state(text[]) is 'Reads again the gap state (linked person, origin, gap_reason) of the leads p_lead_ids of pg_temp.batch_leads from the shared tables; returns how many leads changed and how many went in or out of resolved. Internal: called inside the batch transaction only.';
