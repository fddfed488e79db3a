/*
 * The headline numbers of the gap for idgap diagnose: ops.v_identity_gap_totals
 * under the runbook's column names, so the live figure and today's history row
 * (written by ops.snapshot_identity_gap from the same view) agree when nothing
 * changed in between.
 */
create or replace view ops.v_diag_gap_summary as
select totals.total_leads,
       totals.unresolved,
       totals.resolved,
       totals.pct_unresolved,
       totals.risk_high as high_risk,
       totals.risk_medium as medium_risk,
       totals.risk_low as low_risk,
       totals.repeat_leads
from ops.v_identity_gap_totals as totals;
comment on view ops.v_diag_gap_summary is 'One row: the identity gap now (total, unresolved, resolved, % unresolved, unresolved leads per risk level), read from ops.v_identity_gap_totals. Section "gap" of idgap diagnose.';
comment on column ops.v_diag_gap_summary.total_leads is 'Leads in public.module_ct_cabinet_leads.';
comment on column ops.v_diag_gap_summary.unresolved is 'Leads whose gap_reason is not resolved (the gap).';
comment on column ops.v_diag_gap_summary.resolved is 'Leads whose gap_reason is resolved (repeat leads included).';
comment on column ops.v_diag_gap_summary.pct_unresolved is '100 * unresolved / total_leads, 2 decimals (0 when there are no leads), from ops.v_identity_gap_totals.';
comment on column ops.v_diag_gap_summary.high_risk is 'Unresolved leads with risk_level high.';
comment on column ops.v_diag_gap_summary.medium_risk is 'Unresolved leads with risk_level medium.';
comment on column ops.v_diag_gap_summary.low_risk is 'Unresolved leads with risk_level low.';
comment on column ops.v_diag_gap_summary.repeat_leads is 'Resolved leads that are a later lead of a person whose origin is another lead.';
