/*
 * The gap, lead by lead. A lead is resolved when it is linked to a person whose
 * cabinet_lead origin points to a lead linked to that same person; a second
 * lead of a resolved person is a repeat lead, not a gap. The rule is
 * ops.gap_reason (shared with ops.lead_gap_state, the recovery's per-lead read);
 * this view gathers its facts for every lead at once with hash joins.
 * trips_14d is a scalar sub-select: a query that does not read it (the
 * snapshot, the recovery's selection) never computes it.
 * The definition is ops.v_identity_gap_leads's; this view leaves out the
 * lead's keys (personal data), which its readers then never compute.
 */
create or replace view ops.v_identity_gap_analysis as
select leads.lead_id,
       leads.lead_date,
       leads.person_key,
       leads.has_identity,
       leads.has_origin,
       leads.is_repeat_lead,
       leads.gap_reason,
       leads.gap_age_days,
       leads.risk_level,
       leads.risk_rank,
       leads.trips_14d
from ops.v_identity_gap_leads as leads;
comment on view ops.v_identity_gap_analysis is 'One row per lead: its person, whether it has an identity and a correct origin, the gap reason, age and risk, and the trips of its person''s drivers in the 14 days after the lead.';
comment on column ops.v_identity_gap_analysis.lead_id is 'coalesce(external_id, id::text).';
comment on column ops.v_identity_gap_analysis.lead_date is 'lead_created_at::date; null when unknown.';
comment on column ops.v_identity_gap_analysis.person_key is 'The person the lead is linked to, if any.';
comment on column ops.v_identity_gap_analysis.has_identity is 'The lead is linked to a person.';
comment on column ops.v_identity_gap_analysis.has_origin is 'The lead''s person has a cabinet_lead origin.';
comment on column ops.v_identity_gap_analysis.is_repeat_lead is 'Resolved, and the person''s origin is another (earlier) lead.';
comment on column ops.v_identity_gap_analysis.gap_reason is 'no_identity, no_origin, inconsistent_origin (origin lead not linked to the person) or resolved.';
comment on column ops.v_identity_gap_analysis.gap_age_days is 'Days from lead_date to today (UTC); null when the date is unknown.';
comment on column ops.v_identity_gap_analysis.risk_level is 'high (no_identity aged 7+ days, or inconsistent_origin), medium (no_identity or no_origin aged 2+ days, or unresolved with an unknown lead date) or low.';
comment on column ops.v_identity_gap_analysis.risk_rank is '3 high, 2 medium, 1 low: sort on this, never on the text.';
comment on column ops.v_identity_gap_analysis.trips_14d is 'Completed orders of the person''s linked drivers from lead_date to lead_date + 14.';
