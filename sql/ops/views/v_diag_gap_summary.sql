/*
 * The headline numbers of the gap, computed live from ops.v_identity_gap_analysis
 * with the same formulas as ops.snapshot_identity_gap, so the live figure and
 * today's history row agree when nothing changed in between.
 */
create or replace view ops.v_diag_gap_summary as
with analysis as (
  select gap.gap_reason, gap.risk_level, gap.is_repeat_lead
  from ops.v_identity_gap_analysis as gap
),
counted as (
  select count(*)::integer as total_leads,
         (count(*) filter (where analysis.gap_reason <> 'resolved'))::integer as unresolved,
         (count(*) filter (where analysis.gap_reason = 'resolved'))::integer as resolved,
         (count(*) filter (where analysis.gap_reason <> 'resolved' and analysis.risk_level = 'high'))::integer as high_risk,
         (count(*) filter (where analysis.gap_reason <> 'resolved' and analysis.risk_level = 'medium'))::integer as medium_risk,
         (count(*) filter (where analysis.gap_reason <> 'resolved' and analysis.risk_level = 'low'))::integer as low_risk,
         (count(*) filter (where analysis.is_repeat_lead))::integer as repeat_leads
  from analysis
)
select counted.total_leads,
       counted.unresolved,
       counted.resolved,
       (case when counted.total_leads = 0 then 0
             else round(100.0 * counted.unresolved / counted.total_leads, 2) end)::numeric(6, 2) as pct_unresolved,
       counted.high_risk,
       counted.medium_risk,
       counted.low_risk,
       counted.repeat_leads
from counted;
comment on view ops.v_diag_gap_summary is 'One row: the identity gap now (total, unresolved, resolved, % unresolved, unresolved leads per risk level). Section "gap" of idgap diagnose.';
comment on column ops.v_diag_gap_summary.total_leads is 'Leads in public.module_ct_cabinet_leads.';
comment on column ops.v_diag_gap_summary.unresolved is 'Leads whose gap_reason is not resolved (the gap).';
comment on column ops.v_diag_gap_summary.resolved is 'Leads whose gap_reason is resolved (repeat leads included).';
comment on column ops.v_diag_gap_summary.pct_unresolved is '100 * unresolved / total_leads, 2 decimals (0 when there are no leads); same formula as ops.identity_gap_daily.';
comment on column ops.v_diag_gap_summary.high_risk is 'Unresolved leads with risk_level high.';
comment on column ops.v_diag_gap_summary.medium_risk is 'Unresolved leads with risk_level medium.';
comment on column ops.v_diag_gap_summary.low_risk is 'Unresolved leads with risk_level low.';
comment on column ops.v_diag_gap_summary.repeat_leads is 'Resolved leads that are a later lead of a person whose origin is another lead.';
