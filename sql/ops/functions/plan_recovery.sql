/*
 * Selects the leads a recovery run will process and numbers them in processing
 * order (highest risk first, then the oldest gap) into ops.recovery_queue, with
 * whether each had a job row (the batch reads the job rows of those only).
 * A lead is due when it is in the gap and
 *   - recovery never touched it, or
 *   - its backoff has passed (pending), or it ended matched/skipped and fell back into the gap, or
 *   - the drivers index content changed after its last attempt (new evidence: also re-opens failed leads).
 * Pending job rows whose lead was deleted are due too (they end LEAD_NOT_FOUND),
 * unless a filter on the lead's gap restricts the run.
 * Queue rows of runs that are no longer running (a killed process) are cleared first;
 * a lead still queued by a running run is left to it.
 */
create or replace function ops.plan_recovery(
  p_run_id bigint,
  p_limit integer default null,
  p_risk_level text default null,
  p_gap_reason text default null,
  p_date_from date default null,
  p_date_to date default null)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  index_changed_at timestamptz;
  queued integer;
begin
  if p_limit is not null and p_limit < 1 then
    raise exception 'limit must be at least 1 (got %)', p_limit using errcode = 'invalid_parameter_value';
  end if;
  if p_risk_level is not null and p_risk_level not in ('high', 'medium', 'low') then
    raise exception 'risk_level must be high, medium or low (got %)', p_risk_level using errcode = 'invalid_parameter_value';
  end if;
  if p_gap_reason is not null and p_gap_reason not in ('no_identity', 'no_origin', 'inconsistent_origin') then
    raise exception 'gap_reason must be no_identity, no_origin or inconsistent_origin (got %)', p_gap_reason using errcode = 'invalid_parameter_value';
  end if;

  /* One plan at a time, so two runs planning at once cannot both take a lead. */
  perform pg_advisory_xact_lock(hashtextextended('idgap.plan_recovery', 0));

  delete from ops.recovery_queue as queue
  where not exists (select 1 from ops.job_runs as runs where runs.id = queue.run_id and runs.state = 'running');

  select coalesce(state.content_changed_at, '-infinity') into index_changed_at from canon.drivers_index_state as state;

  /*
   * The batches' statements are planned on the statistics of the link and origin
   * tables. Right after a bulk load autovacuum may not have analysed them yet, and
   * without statistics a person's lead links were read through the whole
   * lead-link part of the (source_table, source_pk) index (a BitmapAnd planned
   * for 468 rows): 250+ ms a batch, origins 2 s -> 12-14 s at 1M. So a run
   * analyses a table whose statistics are missing or a tenth out of date, when
   * it may (it owns the tables; a least-privilege role leaves it to autovacuum).
   */
  if exists (select 1 from pg_stat_user_tables as stats
             join pg_class as tables on tables.oid = stats.relid
             where stats.relid in ('canon.identity_links'::regclass, 'canon.identity_origin'::regclass)
               and pg_has_role(current_user, tables.relowner, 'MEMBER')
               and (coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                    or stats.n_mod_since_analyze > 0.1 * greatest(stats.n_live_tup, 1000))) then
    analyze canon.identity_links, canon.identity_origin;
  end if;

  insert into ops.recovery_queue (run_id, seq, lead_id, has_job)
  with gap as (
    select analysis.lead_id, analysis.lead_date, analysis.risk_rank
    from ops.v_identity_gap_analysis as analysis
    where analysis.gap_reason <> 'resolved'
      and (p_risk_level is null or analysis.risk_level = p_risk_level)
      and (p_gap_reason is null or analysis.gap_reason = p_gap_reason)
      and (p_date_from is null or analysis.lead_date >= p_date_from)
      and (p_date_to is null or analysis.lead_date <= p_date_to)
  ),
  due_gap as (
    select gap.lead_id, gap.lead_date, gap.risk_rank, jobs.id is not null as has_job
    from gap
    left join ops.identity_matching_jobs as jobs
      on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = gap.lead_id
    where (jobs.id is null
       or jobs.status in ('matched', 'skipped')
       or (jobs.status = 'pending' and coalesce(jobs.next_attempt_at, '-infinity') <= now())
       or jobs.last_attempt_at < index_changed_at)
      /* A lead queued by another running run is that run's: a recovery batch writes its lead's rows without waiting for others. */
      and not exists (select 1 from ops.recovery_queue as queued where queued.lead_id = gap.lead_id)
  ),
  vanished as (
    select jobs.source_id as lead_id, null::date as lead_date, 0 as risk_rank, true as has_job
    from ops.identity_matching_jobs as jobs
    where jobs.status = 'pending'
      and not exists (select 1 from ops.recovery_queue as queued where queued.lead_id = jobs.source_id)
      and p_risk_level is null and p_gap_reason is null and p_date_from is null and p_date_to is null
      and not exists (
        select 1 from public.module_ct_cabinet_leads as cabinet_leads
        where coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = jobs.source_id)
  ),
  selected as (
    select due.lead_id, due.lead_date, due.risk_rank, due.has_job
    from (select * from due_gap union all select * from vanished) as due
    order by due.risk_rank desc, due.lead_date asc nulls last, due.lead_id
    limit p_limit
  )
  select p_run_id, row_number() over (order by selected.risk_rank desc, selected.lead_date asc nulls last, selected.lead_id), selected.lead_id,
         selected.has_job
  from selected;
  get diagnostics queued = row_count;
  return queued;
end
$$;
comment on function ops.plan_recovery(bigint, integer, text, text, date, date) is 'Fills ops.recovery_queue for a run with the due leads of the gap (filters optional), highest risk and oldest first; returns how many.';
