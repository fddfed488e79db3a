/*
 * The gap state of one lead, read from the shared tables now: the person it is
 * linked to, that person's origin, and the gap reason (ops.gap_reason, the rule
 * ops.v_identity_gap_analysis reads too). Exactly one row; gap_reason is null
 * for a lead that does not exist. A plain SQL function with no SET clause, so
 * the planner inlines it into the caller's LATERAL join: three index probes per
 * lead, in the batch's leads statement (ops.batch_leads), with no second copy of
 * the rule.
 */
create or replace function ops.lead_gap_state(p_lead_id text, p_lead_found boolean)
returns table (linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text)
language sql
stable
parallel safe
as $$
  select lead_links.person_key,
         origins.origin_tag,
         origins.origin_source_id,
         origins.decided_by,
         case when not p_lead_found then null
              else ops.gap_reason(lead_links.person_key, origins.origin_tag, origin_links.person_key) end
  from (select) as one_row
  left join canon.identity_links as lead_links
    on lead_links.source_table = 'module_ct_cabinet_leads' and lead_links.source_pk = p_lead_id
  left join canon.identity_origin as origins on origins.person_key = lead_links.person_key
  left join canon.identity_links as origin_links
    on origin_links.source_table = 'module_ct_cabinet_leads' and origin_links.source_pk = origins.origin_source_id
       and origins.origin_tag = 'cabinet_lead'
$$;
comment on function ops.lead_gap_state(text, boolean) is 'The gap state of one lead now (linked person, its origin, gap_reason; null gap_reason for a lead that does not exist): one row, inlined into the recovery batch''s statements.';
