/*
 * The gap totals now, over every lead: ops.identity_gap_totals without a date
 * window. What ops.snapshot_identity_gap writes, ops.v_diag_gap_summary shows
 * and /metrics exports.
 */
create or replace view ops.v_identity_gap_totals as
select totals.total_leads,
       totals.unresolved,
       totals.resolved,
       totals.pct_unresolved,
       totals.no_identity,
       totals.no_origin,
       totals.inconsistent_origin,
       totals.risk_high,
       totals.risk_medium,
       totals.risk_low,
       totals.repeat_leads,
       totals.cells
from ops.identity_gap_totals(null, null) as totals;
comment on view ops.v_identity_gap_totals is 'One row: the identity gap now (ops.identity_gap_totals over every lead): the one source of the totals, pct_unresolved and the counts per reason and per risk among the unresolved.';
comment on column ops.v_identity_gap_totals.total_leads is 'Leads in public.module_ct_cabinet_leads.';
comment on column ops.v_identity_gap_totals.unresolved is 'Leads whose gap_reason is not resolved (the gap).';
comment on column ops.v_identity_gap_totals.resolved is 'Leads whose gap_reason is resolved (repeat leads included).';
comment on column ops.v_identity_gap_totals.pct_unresolved is '100 * unresolved / total_leads, 2 decimals (0 when there are no leads).';
comment on column ops.v_identity_gap_totals.no_identity is 'Leads with gap_reason no_identity.';
comment on column ops.v_identity_gap_totals.no_origin is 'Leads with gap_reason no_origin.';
comment on column ops.v_identity_gap_totals.inconsistent_origin is 'Leads with gap_reason inconsistent_origin.';
comment on column ops.v_identity_gap_totals.risk_high is 'Unresolved leads with risk_level high.';
comment on column ops.v_identity_gap_totals.risk_medium is 'Unresolved leads with risk_level medium.';
comment on column ops.v_identity_gap_totals.risk_low is 'Unresolved leads with risk_level low.';
comment on column ops.v_identity_gap_totals.repeat_leads is 'Resolved leads that are a later lead of a person whose origin is another lead.';
comment on column ops.v_identity_gap_totals.cells is 'Leads per gap_reason (no_identity, no_origin, inconsistent_origin, resolved) x risk_level (high, medium, low): 12 objects {gap_reason, risk_level, leads}, zeros included, in that order.';
