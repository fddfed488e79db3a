/*
 * The plan of a recovery run, phase 1 of 3 (ops.plan_recovery calls all three;
 * a run with a second lane runs phase 2 on both connections at once):
 *   1. ops.plan_recovery_leads: the due leads, numbered, with their keys
 *      (pg_temp.plan_due), the anchors each exact rule joins them to
 *      (pg_temp.plan_edges), and the near keys' work list
 *      (ops.recovery_near_leads: the leads with no exact candidate);
 *   2. ops.plan_near_pairs(run, part, parts): their near-key pairs;
 *   3. ops.plan_recovery_components: the components and batches, into
 *      ops.recovery_queue.
 * The temporary tables of phase 1 live until phase 3 drops them (the phases
 * run on one session, in one transaction or three).
 *
 * Selects the leads a recovery run will process and numbers them in processing
 * order (highest risk first, then the oldest gap) into pg_temp.plan_due, with
 * whether each had a job row (the batch reads the job rows of those only).
 * A lead is due when it is in the gap and
 *   - recovery never touched it, or
 *   - its backoff has passed (pending), or it ended matched/skipped and fell back into the gap, or
 *   - it was re-opened (failed with next_attempt_at set): a changed driver meets its keys, old or new
 *     (ops.reopen_leads_for_changed_drivers; no content change re-opens every lead any more).
 * p_lead_ids (the incremental run, ops.plan_arrivals) restricts the run to those leads: each one in the
 * gap is due, and nothing else of the gap is read.
 * Pending job rows whose lead was deleted are due too (they end LEAD_NOT_FOUND),
 * unless a filter on the lead's gap restricts the run.
 * Queue rows of runs that are no longer running (a killed process) are cleared first.
 *
 * The anchors (pg_temp.plan_edges) the components of phase 3 are built on:
 * every lead is joined to the person each candidate driver stands for
 * (ops.candidate_person: its linked person, or 'driver:<id>' for the person a
 * batch would create) under every rule of ops.match_rules that has a blocking
 * key (a rule added with one joins with no change here; the near keys' pairs
 * are added by phase 3 from ops.recovery_near_pairs), and to the person the
 * lead is linked to. p_batch_size is checked here, before the work, and used
 * by phase 3.
 *
 * The caller holds the recovery lock (ops.recovery_lock_key()) on its session:
 * two runs never overlap.
 */
create or replace function ops.plan_recovery_leads(
  p_run_id bigint,
  p_limit integer default null,
  p_risk_level text default null,
  p_gap_reason text default null,
  p_date_from date default null,
  p_date_to date default null,
  p_batch_size integer default 5000,
  p_lead_ids text[] default null)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
/* JIT compiled the plan's hash joins at every call on a stock server (PERFORMANCE-NOTES: 1.3 -> 25.9 s for one step). */
set jit = off
/*
 * The gap's selection reads every lead, with its keys normalised in the same scan: with two parallel workers the
 * selection took 2.4 -> 1.4 s and the keys 3.5 -> 2.5 s of a serial plan at 1M on the embedded server (the run's other
 * lane waits for the plan); a worker's tuple is costed at a tenth of the default, or the keys' normalising, costed as a
 * few operators, stays in the leader.
 */
set max_parallel_workers_per_gather = 2
set parallel_tuple_cost = 0.01
as $$
declare
  queued integer;
  blocking_key text;
  near_keys boolean := coalesce(ops.setting_integer('near_keys_enabled'), 0) = 1;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: plan_due (prio integer, lead_id text, has_job boolean, linked_person_key uuid, phone_norm text, plate_norm text, lead_name text)';
  perform 'PRAGMA:TABLE: plan_edges (prio integer, anchor text, exact_candidate boolean)';
  if p_batch_size is null or p_batch_size < 1 then
    raise exception 'batch_size must be at least 1 (got %)', p_batch_size using errcode = 'invalid_parameter_value';
  end if;
  if not exists (select 1 from pg_catalog.pg_locks as locks
                 where locks.locktype = 'advisory' and locks.granted and locks.pid = pg_catalog.pg_backend_pid() and locks.objsubid = 1
                   and locks.classid::bigint = (ops.recovery_lock_key() >> 32) & 4294967295
                   and locks.objid::bigint = ops.recovery_lock_key() & 4294967295) then
    raise exception 'ops.plan_recovery: this session does not hold the recovery lock; take it first with select pg_advisory_lock(ops.recovery_lock_key())'
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  /* The keys' country code (ops.v_identity_gap_leads reads it): a missing setting raises here, as for the drivers index. */
  perform ops.setting_text('default_country_code');
  if p_limit is not null and p_limit < 1 then
    raise exception 'limit must be at least 1 (got %)', p_limit using errcode = 'invalid_parameter_value';
  end if;
  if p_risk_level is not null and p_risk_level not in ('high', 'medium', 'low') then
    raise exception 'risk_level must be high, medium or low (got %)', p_risk_level using errcode = 'invalid_parameter_value';
  end if;
  if p_gap_reason is not null and p_gap_reason not in ('no_identity', 'no_origin', 'inconsistent_origin') then
    raise exception 'gap_reason must be no_identity, no_origin or inconsistent_origin (got %)', p_gap_reason using errcode = 'invalid_parameter_value';
  end if;

  delete from ops.recovery_queue as queue
  where not exists (select 1 from ops.job_runs as runs where runs.id = queue.run_id and runs.state = 'running');

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

  drop table if exists pg_temp.plan_due, pg_temp.plan_edges, pg_temp.plan_shared, pg_temp.plan_labels, pg_temp.plan_sizes;
  /*
   * The due leads, numbered, with the person each is linked to and their keys, in one read of the gap
   * (ops.v_identity_gap_leads: the keys normalised in the same scan of the leads, by the parallel workers; at 1M leads
   * on the embedded server 3.0-3.2 s, where the gap and then a join back to the leads for their keys took 4.4-4.5 s).
   * The keys are carried by the queue to the batch, which does not normalise them again.
   */
  create temp table plan_due on commit preserve rows as
  with gap as (
    select analysis.lead_id, analysis.lead_date, analysis.risk_rank, analysis.person_key, analysis.phone_norm, analysis.plate_norm,
           /* For the near keys' name check (ops.plan_near_pairs), when they are on. */
           case when near_keys then analysis.lead_name end as lead_name
    from ops.v_identity_gap_leads as analysis
    where analysis.gap_reason <> 'resolved'
      and (p_risk_level is null or analysis.risk_level = p_risk_level)
      and (p_gap_reason is null or analysis.gap_reason = p_gap_reason)
      and (p_date_from is null or analysis.lead_date >= p_date_from)
      and (p_date_to is null or analysis.lead_date <= p_date_to)
      and p_lead_ids is null
    union all
    /*
     * The incremental run's leads, looked up by lead_id (an index scan of the unique lead_id index with the
     * array: the rest of the gap is never read; 1,000 of 1M leads in 23 ms on PG 15, where a join with the
     * unnested array read every lead, 1.5 s).
     */
    select analysis.lead_id, analysis.lead_date, analysis.risk_rank, analysis.person_key, analysis.phone_norm, analysis.plate_norm,
           case when near_keys then analysis.lead_name end
    from ops.v_identity_gap_leads as analysis
    where analysis.lead_id = any (p_lead_ids)
      and analysis.gap_reason <> 'resolved'
  ),
  due_gap as (
    select gap.lead_id, gap.lead_date, gap.risk_rank, gap.person_key, gap.phone_norm, gap.plate_norm, gap.lead_name,
           jobs.id is not null as has_job
    from gap
    left join ops.identity_matching_jobs as jobs
      on jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = gap.lead_id
    where (jobs.id is null
       or jobs.status in ('matched', 'skipped')
       or (jobs.status = 'pending' and coalesce(jobs.next_attempt_at, '-infinity') <= now())
       or (jobs.status = 'failed' and jobs.next_attempt_at <= now())
       or p_lead_ids is not null)
      /* A lead queued by another running run is that run's: a recovery batch writes its lead's rows without waiting for others. */
      and not exists (select 1 from ops.recovery_queue as queued where queued.lead_id = gap.lead_id)
  ),
  vanished as (
    select jobs.source_id as lead_id, null::date as lead_date, 0 as risk_rank, null::uuid as person_key,
           null::text as phone_norm, null::text as plate_norm, null::text as lead_name, true as has_job
    from ops.identity_matching_jobs as jobs
    where jobs.status = 'pending'
      and not exists (select 1 from ops.recovery_queue as queued where queued.lead_id = jobs.source_id)
      and p_risk_level is null and p_gap_reason is null and p_date_from is null and p_date_to is null
      /* Not in an incremental run: its leads were inserted or updated, and the pending rows are not read. */
      and p_lead_ids is null
      and not exists (
        select 1 from public.module_ct_cabinet_leads as cabinet_leads
        where coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = jobs.source_id)
  ),
  selected as (
    /* Numbered in the order the limit cuts in: one sort. */
    select row_number() over (order by due.risk_rank desc, due.lead_date asc nulls last, due.lead_id)::integer as prio,
           due.lead_id, due.person_key, due.has_job, due.phone_norm, due.plate_norm, due.lead_name
    from (select * from due_gap union all select * from vanished) as due
    order by due.risk_rank desc, due.lead_date asc nulls last, due.lead_id
    limit p_limit
  )
  select selected.prio, selected.lead_id, selected.has_job, selected.person_key as linked_person_key,
         selected.phone_norm, selected.plate_norm, selected.lead_name
  from selected;
  get diagnostics queued = row_count;
  analyze pg_temp.plan_due (prio, linked_person_key, phone_norm, plate_norm);

  /* The anchors of each lead: the person it is linked to, and the person each candidate driver stands for. */
  /* exact_candidate: the edge of a driver an exact rule's key finds (ops.plan_near_pairs reads which leads have none). */
  create temp table plan_edges (prio integer not null, anchor text not null, exact_candidate boolean not null default false) on commit preserve rows;
  insert into plan_edges (prio, anchor)
  select keys.prio, keys.linked_person_key::text from plan_due as keys where keys.linked_person_key is not null;
  /* One join a blocking key of the catalogue: the candidate pairs every rule feeds. */
  for blocking_key in
    select distinct rules.blocking_key from ops.match_rules as rules where rules.kind = 'match' and rules.blocking_key is not null
      and rules.blocking_key not in ('phone_near', 'plate_near')
    order by 1
  loop
    execute format($pairs$
      insert into plan_edges (prio, anchor, exact_candidate)
      select keys.prio, ops.candidate_person(driver_links.person_key, idx.driver_id), true
      from plan_due as keys
      join canon.drivers_index as idx on idx.%1$I = keys.%1$I
      left join canon.identity_links as driver_links
        on driver_links.source_table = 'drivers' and driver_links.source_pk = idx.driver_id
      where keys.%1$I is not null
      $pairs$, blocking_key);
  end loop;

  /*
   * The near keys' work list (rules R4, R5): the leads with no exact candidate, whose pairs ops.plan_near_pairs finds
   * (in parts, on one connection or more) before ops.plan_recovery_components joins them into the components. Those of
   * runs no longer running are cleared first, and this run's earlier ones.
   */
  delete from ops.recovery_near_leads as near_leads
  where near_leads.run_id = p_run_id
     or not exists (select 1 from ops.job_runs as runs where runs.id = near_leads.run_id and runs.state = 'running');
  delete from ops.recovery_near_pairs as pairs
  where pairs.run_id = p_run_id
     or not exists (select 1 from ops.job_runs as runs where runs.id = pairs.run_id and runs.state = 'running');
  if near_keys then
    insert into ops.recovery_near_leads (run_id, prio, lead_id, phone_norm, plate_norm, lead_name)
    select p_run_id, open_leads.prio, open_leads.lead_id, open_leads.phone_norm, open_leads.plate_norm, open_leads.lead_name
    from (
      /* No exact candidate at all: no driver with the lead's phone, none on its plate, read from the plan's edges (the
         exact rules' joins have just found them: at 1M leads two anti-joins of the plan's leads with the drivers index
         took 2.7 s, this one 0.6 s). A pair a reviewer rejected is none: the few leads with a rejection and an exact
         candidate are checked against the index itself. A lead whose plate rule is weak gets rule R6 (the plate exact,
         the name near), not R4 and R5. */
      select keys.prio, keys.lead_id, keys.phone_norm, keys.plate_norm, keys.lead_name
      from plan_due as keys
      where keys.linked_person_key is null
        and (keys.phone_norm is not null or keys.plate_norm is not null)
        and not exists (select 1 from plan_edges as edges where edges.prio = keys.prio and edges.exact_candidate)
      union all
      select keys.prio, keys.lead_id, keys.phone_norm, keys.plate_norm, keys.lead_name
      from plan_due as keys
      where keys.linked_person_key is null
        and keys.lead_id in (select rejected.lead_id from ops.review_decisions as rejected where rejected.decision = 'reject')
        and exists (select 1 from plan_edges as edges where edges.prio = keys.prio and edges.exact_candidate)
        and not exists (select 1 from canon.drivers_index as idx
                        where idx.phone_norm = keys.phone_norm
                          and not exists (select 1 from ops.review_decisions as rejected
                                          where rejected.decision = 'reject' and rejected.lead_id = keys.lead_id
                                            and rejected.driver_id = idx.driver_id))
        and not exists (select 1 from canon.drivers_index as idx
                        where idx.plate_norm = keys.plate_norm
                          and not exists (select 1 from ops.review_decisions as rejected
                                          where rejected.decision = 'reject' and rejected.lead_id = keys.lead_id
                                            and rejected.driver_id = idx.driver_id))
    ) as open_leads;
  end if;
  return queued;
end
$$;
comment on function ops.plan_recovery_leads(bigint, integer, text, text, date, date, integer, text[]) is 'Phase 1 of the plan of a recovery run (ops.plan_recovery): the due leads of the gap (filters optional; p_lead_ids: those leads only), numbered highest risk and oldest first, with their keys (pg_temp.plan_due), the anchors of their exact candidates (pg_temp.plan_edges), and the near keys'' work list (ops.recovery_near_leads); the caller holds the recovery lock. Returns how many leads.';
