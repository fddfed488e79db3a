/*
 * The gap totals: the one definition of total, unresolved, resolved,
 * pct_unresolved, the count per gap reason and the count per risk level among
 * the unresolved leads. Read by ops.v_identity_gap_totals (every lead), so by
 * ops.snapshot_identity_gap, ops.v_diag_gap_summary and /metrics, and by the
 * API with the date window of its request. One pass over
 * ops.v_identity_gap_analysis: the leads are counted per reason x risk cell,
 * every figure is a sum of cells, and the cells come back too (zero-filled) for
 * readers that need them (the API's filter counts, the metrics' series).
 * A plain SQL function with no SET clause: inlined into the caller's query.
 */
create or replace function ops.identity_gap_totals(p_date_from date default null, p_date_to date default null)
returns table (
  total_leads integer, unresolved integer, resolved integer, pct_unresolved numeric(6, 2),
  no_identity integer, no_origin integer, inconsistent_origin integer,
  risk_high integer, risk_medium integer, risk_low integer,
  repeat_leads integer, cells jsonb)
language sql
stable
parallel safe
as $$
  with counted as (
    select analysis.gap_reason, analysis.risk_level,
           count(*)::integer as leads,
           (count(*) filter (where analysis.is_repeat_lead))::integer as repeat_leads
    from ops.v_identity_gap_analysis as analysis
    where (p_date_from is null or analysis.lead_date >= p_date_from)
      and (p_date_to is null or analysis.lead_date <= p_date_to)
    group by analysis.gap_reason, analysis.risk_level
  ),
  cells as (
    select reasons.gap_reason, reasons.reason_order, risks.risk_level, risks.risk_rank,
           coalesce(counted.leads, 0) as leads, coalesce(counted.repeat_leads, 0) as repeat_leads
    from (values ('no_identity', 1), ('no_origin', 2), ('inconsistent_origin', 3), ('resolved', 4))
           as reasons (gap_reason, reason_order)
    cross join (values ('high', 3), ('medium', 2), ('low', 1)) as risks (risk_level, risk_rank)
    left join counted on counted.gap_reason = reasons.gap_reason and counted.risk_level = risks.risk_level
  ),
  summed as (
    select sum(cells.leads)::integer as total_leads,
           (sum(cells.leads) filter (where cells.gap_reason <> 'resolved'))::integer as unresolved,
           (sum(cells.leads) filter (where cells.gap_reason = 'resolved'))::integer as resolved,
           (sum(cells.leads) filter (where cells.gap_reason = 'no_identity'))::integer as no_identity,
           (sum(cells.leads) filter (where cells.gap_reason = 'no_origin'))::integer as no_origin,
           (sum(cells.leads) filter (where cells.gap_reason = 'inconsistent_origin'))::integer as inconsistent_origin,
           (sum(cells.leads) filter (where cells.gap_reason <> 'resolved' and cells.risk_level = 'high'))::integer as risk_high,
           (sum(cells.leads) filter (where cells.gap_reason <> 'resolved' and cells.risk_level = 'medium'))::integer as risk_medium,
           (sum(cells.leads) filter (where cells.gap_reason <> 'resolved' and cells.risk_level = 'low'))::integer as risk_low,
           sum(cells.repeat_leads)::integer as repeat_leads,
           jsonb_agg(jsonb_build_object('gap_reason', cells.gap_reason, 'risk_level', cells.risk_level, 'leads', cells.leads)
                     order by cells.reason_order, cells.risk_rank desc) as cells
    from cells
  )
  select summed.total_leads,
         summed.unresolved,
         summed.resolved,
         (case when summed.total_leads = 0 then 0
               else round(100.0 * summed.unresolved / summed.total_leads, 2) end)::numeric(6, 2),
         summed.no_identity,
         summed.no_origin,
         summed.inconsistent_origin,
         summed.risk_high,
         summed.risk_medium,
         summed.risk_low,
         summed.repeat_leads,
         summed.cells
  from summed
$$;
comment on function ops.identity_gap_totals(date, date) is 'The gap totals of the leads whose lead_date is in [p_date_from, p_date_to] (null: no bound; with a bound, leads without a date are left out): one row of total, unresolved, resolved, pct_unresolved, per gap reason, per risk level among the unresolved, repeat leads, and the 12 reason x risk cells. The one definition; ops.v_identity_gap_totals is it over every lead.';
