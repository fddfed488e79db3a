/*
 * The gap by reason and risk as a full grid (3 reasons x 3 risk levels), zeros
 * included, so a cell that empties stays visible and the shape never changes.
 */
create or replace view ops.v_diag_gap_breakdown as
with reasons as (
  select reasons.gap_reason, reasons.reason_order
  from (values ('no_identity', 1), ('no_origin', 2), ('inconsistent_origin', 3)) as reasons (gap_reason, reason_order)
),
risks as (
  select risks.risk_level, risks.risk_rank
  from (values ('high', 3), ('medium', 2), ('low', 1)) as risks (risk_level, risk_rank)
),
gap as (
  select analysis.gap_reason, analysis.risk_level, analysis.gap_age_days, analysis.lead_date
  from ops.v_identity_gap_analysis as analysis
  where analysis.gap_reason <> 'resolved'
),
counted as (
  select gap.gap_reason, gap.risk_level,
         count(*)::integer as leads,
         min(gap.lead_date) as oldest_lead_date,
         max(gap.gap_age_days) as max_age_days,
         (count(*) filter (where gap.lead_date is null))::integer as unknown_date_leads
  from gap
  group by gap.gap_reason, gap.risk_level
)
select reasons.gap_reason,
       reasons.reason_order,
       risks.risk_level,
       risks.risk_rank,
       coalesce(counted.leads, 0) as leads,
       counted.oldest_lead_date,
       counted.max_age_days,
       coalesce(counted.unknown_date_leads, 0) as unknown_date_leads
from reasons
cross join risks
left join counted on counted.gap_reason = reasons.gap_reason and counted.risk_level = risks.risk_level;
comment on view ops.v_diag_gap_breakdown is 'One row per gap_reason (no_identity, no_origin, inconsistent_origin) and risk_level (high, medium, low): 9 rows, zeros included. Sort on reason_order, then risk_rank descending.';
comment on column ops.v_diag_gap_breakdown.gap_reason is 'no_identity, no_origin or inconsistent_origin.';
comment on column ops.v_diag_gap_breakdown.reason_order is '1 no_identity, 2 no_origin, 3 inconsistent_origin: the display order.';
comment on column ops.v_diag_gap_breakdown.risk_level is 'high, medium or low.';
comment on column ops.v_diag_gap_breakdown.risk_rank is '3 high, 2 medium, 1 low: sort on this.';
comment on column ops.v_diag_gap_breakdown.leads is 'Unresolved leads with this reason and risk.';
comment on column ops.v_diag_gap_breakdown.oldest_lead_date is 'Earliest lead_date among them (null when none, or all dates unknown).';
comment on column ops.v_diag_gap_breakdown.max_age_days is 'Largest gap_age_days among them (null when none, or all dates unknown).';
comment on column ops.v_diag_gap_breakdown.unknown_date_leads is 'Of them, leads without lead_created_at.';
