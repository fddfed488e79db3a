/*
 * Every rule that holds gives a row (no first-match-wins): a lead with no
 * identity for 8 days has both over_24h_no_identity and over_7d_unresolved.
 */
create or replace view ops.v_identity_gap_alerts as
with gap as (
  select analysis.lead_id, analysis.gap_reason, analysis.gap_age_days
  from ops.v_identity_gap_analysis as analysis
  where analysis.gap_reason <> 'resolved'
),
alerts as (
  select gap.lead_id, 'over_24h_no_identity' as alert_type, 'medium' as severity, 2 as severity_rank, gap.gap_age_days as days_open,
         'Run recovery (idgap recover, or ops.enqueue_recovery); if it stays unmatched, read its fail_reason in ops.identity_matching_jobs.' as suggested_action
  from gap
  where gap.gap_reason = 'no_identity' and gap.gap_age_days >= 1
  union all
  select gap.lead_id, 'over_7d_unresolved', 'high', 3, gap.gap_age_days,
         'Unresolved for a week: check the lead''s fail_reason and attempts; MISSING_KEYS and WEAK_MATCH_ONLY need data fixed at the source, MULTIPLE_CANDIDATES a manual decision.'
  from gap
  where gap.gap_reason in ('no_identity', 'no_origin') and gap.gap_age_days >= 7
  union all
  select gap.lead_id, 'inconsistent_origin', 'high', 3, gap.gap_age_days,
         'The person''s origin points to a lead not linked to them: run recovery to derive the origin again; if it is a manual origin, correct it by hand.'
  from gap
  where gap.gap_reason = 'inconsistent_origin'
)
select alerts.lead_id, alerts.alert_type, alerts.severity, alerts.severity_rank, alerts.days_open, alerts.suggested_action
from alerts;
comment on view ops.v_identity_gap_alerts is 'One row per lead and alert rule that holds for it: over_24h_no_identity, over_7d_unresolved, inconsistent_origin.';
comment on column ops.v_identity_gap_alerts.lead_id is 'The lead.';
comment on column ops.v_identity_gap_alerts.alert_type is 'over_24h_no_identity (no identity, age >= 1 day), over_7d_unresolved (no identity or no origin, age >= 7 days), inconsistent_origin.';
comment on column ops.v_identity_gap_alerts.severity is 'high or medium.';
comment on column ops.v_identity_gap_alerts.severity_rank is '3 high, 2 medium: sort on this.';
comment on column ops.v_identity_gap_alerts.days_open is 'Days since the lead date (null when unknown).';
comment on column ops.v_identity_gap_alerts.suggested_action is 'What an operator should do about it.';
