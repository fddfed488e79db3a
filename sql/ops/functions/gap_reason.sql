/*
 * The gap reason of a lead: the one definition, read by
 * ops.v_identity_gap_analysis (every lead, hash joins) and ops.lead_gap_state
 * (one lead, index probes, inside the recovery batch). Each reader gathers the
 * three facts its own way; the rule lives here only.
 * A single-expression SQL function with no SET clause and not strict, so the
 * planner inlines it as a plain CASE in both readers: no call, no plan change.
 */
create or replace function ops.gap_reason(p_linked_person_key uuid, p_origin_tag text, p_origin_lead_person_key uuid)
returns text
language sql
immutable
parallel safe
as $$
  select case
           when p_linked_person_key is null then 'no_identity'
           when p_origin_tag is distinct from 'cabinet_lead' then 'no_origin'
           when p_origin_lead_person_key is distinct from p_linked_person_key then 'inconsistent_origin'
           else 'resolved'
         end
$$;
comment on function ops.gap_reason(uuid, text, uuid) is 'The gap reason of a lead from the person it is linked to (null: none), that person''s origin tag (null: no origin) and the person the origin''s lead is linked to: no_identity, no_origin, inconsistent_origin or resolved. The one definition; inlined by its readers.';
