/*
 * The privileges of the roles created by migration 000002 (idgap_worker,
 * idgap_reader, idgap_api), granted again by `idgap migrate` after every
 * change: dropping and re-creating a view or function loses its grants.
 * Idempotent; run by the owner of the schema (the migrating role).
 *
 * Functions run with the caller's rights, except ops.enqueue_job and
 * ops.enqueue_from_api (security definer: they queue jobs with the owner's
 * rights on graphile_worker, after checking the task and payload). EXECUTE is
 * taken from PUBLIC on canon, ops and graphile_worker, so a role gets only
 * what it needs: the reader may call what its views call (parse_date_file, the
 * settings readers), not the writers; the worker calls everything.
 *
 * The API's role has no right in graphile_worker at all: through its tables or
 * PUBLIC's EXECUTE it could lock a queue for 4 hours, rename tasks, or call
 * reschedule_jobs / permanently_fail_jobs. It queues through
 * ops.enqueue_from_api and reads job status through ops.v_job_status (a view,
 * with its owner's rights). Graphile Worker's own migrations create its
 * functions with PUBLIC's EXECUTE; `idgap migrate` runs this function again
 * whenever a Graphile Worker migration was applied, so new ones are revoked too.
 *
 * The reader sees no raw personal data: not public.* (raw leads and drivers),
 * not canon.* (names, phones, plates), not ops.identity_matching_jobs (lead ids
 * with database messages); the ops views it reads carry ids, dates, reasons
 * and counts only.
 */
create or replace function ops.apply_grants()
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  /* What the ops views call (a view's functions are checked against its reader): the date parser, the settings readers, the gap rule and the gap totals. */
  reader_functions text[] := array['canon.parse_date_file(text)', 'ops.setting_text(text)', 'ops.setting_integer(text)', 'ops.setting_numeric(text)',
                                   'ops.gap_reason(uuid, text, uuid)', 'ops.identity_gap_totals(date, date)',
                                   /* the review queue's counts (security definer, no personal data): the metrics */
                                   'ops.review_summary()'];
  reader_tables text[] := array['ops.settings', 'ops.job_runs', 'ops.identity_gap_daily', 'ops.match_weights'];
  f text;
  v record;
begin
  if exists (select from pg_catalog.pg_roles where rolname in ('idgap_worker', 'idgap_reader', 'idgap_api') having count(*) < 3) then
    raise exception 'the roles idgap_worker, idgap_reader and idgap_api are missing: apply the migrations first (idgap migrate)';
  end if;
  grant idgap_reader to idgap_api;

  /* Functions: no EXECUTE for PUBLIC; the worker calls them all (its own grant on graphile_worker's is below). */
  revoke execute on all functions in schema canon, ops, graphile_worker from public;
  grant execute on all functions in schema canon, ops to idgap_worker;

  /* The worker: every schema, the raw inputs read-only, canon and ops read-write. */
  grant usage on schema public, canon, ops, graphile_worker to idgap_worker;
  grant select on public.module_ct_cabinet_leads, public.drivers, public.summary_daily to idgap_worker;
  grant select, insert, update, delete on all tables in schema canon to idgap_worker;
  grant select, insert, update, delete on ops.job_runs, ops.identity_matching_jobs, ops.identity_gap_daily, ops.recovery_queue to idgap_worker;
  grant select on ops.settings, ops.sql_objects, ops.job_triggers to idgap_worker;
  /* The review store (written by the runs) and the decisions (read by them: a rejected pair is never proposed again);
     the arrival work lists (taken by the incremental runs). */
  grant select, insert, update, delete on ops.lead_candidates, ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes, ops.lead_keys to idgap_worker;
  grant select on ops.review_decisions to idgap_worker;
  /* The near-key work list and pairs of running runs, and the match weights a worker may re-estimate. */
  grant select, insert, update, delete on ops.recovery_near_leads, ops.recovery_near_pairs, ops.match_weights to idgap_worker;
  grant usage, select on all sequences in schema canon, ops to idgap_worker;
  /* Graphile Worker's own tables and functions: the worker takes, completes and queues jobs. */
  grant select, insert, update, delete on all tables in schema graphile_worker to idgap_worker;
  grant usage, select, update on all sequences in schema graphile_worker to idgap_worker;
  grant execute on all functions in schema graphile_worker to idgap_worker;
  /*
   * Graphile Worker turns row level security on for its private tables (no
   * policy: only their owner sees a row), so other roles cannot read them by
   * accident. The worker is meant to: it gets a policy. The API gets none
   * (policies of earlier versions are dropped): it reads through ops views.
   */
  foreach f in array array['_private_jobs', '_private_tasks', '_private_job_queues', '_private_known_crontabs'] loop
    execute format('drop policy if exists idgap_worker_all on graphile_worker.%I', f);
    execute format('create policy idgap_worker_all on graphile_worker.%I for all to idgap_worker using (true) with check (true)', f);
  end loop;
  foreach f in array array['_private_jobs', '_private_tasks', '_private_job_queues'] loop
    execute format('drop policy if exists idgap_api_select on graphile_worker.%I', f);
    execute format('drop policy if exists idgap_api_insert on graphile_worker.%I', f);
    execute format('drop policy if exists idgap_api_update on graphile_worker.%I', f);
  end loop;
  /* `idgap start` checks that the migrations are applied before it works. */
  if exists (select from pg_catalog.pg_namespace where nspname = 'graphile_migrate') then
    grant usage on schema graphile_migrate to idgap_worker;
    grant select on all tables in schema graphile_migrate to idgap_worker;
  end if;
  /* PostgreSQL 17+: refresh_drivers_index analyzes the index table it rebuilds (older servers skip it with a warning). */
  if current_setting('server_version_num')::integer >= 170000 then
    execute 'grant maintain on canon.drivers_index to idgap_worker';
  end if;

  /* The reader: the ops views, the ledger, the history; what the views call. */
  grant usage on schema ops to idgap_reader;
  for v in
    select format('%I.%I', views.schemaname, views.viewname) as name
    from pg_catalog.pg_views as views
    /* The review queue carries personal data (names, plates): read through ops.review_queue_page only. The gap with
       the leads' keys (phones, plates, names) is the plan's: the worker's, not the reader's. */
    where views.schemaname = 'ops' and views.viewname not in ('v_identity_review_queue', 'v_identity_gap_leads')
  loop
    execute format('grant select on %s to idgap_reader, idgap_worker', v.name);
  end loop;
  revoke all on ops.v_identity_review_queue from idgap_reader, idgap_worker, idgap_api;
  revoke all on ops.v_identity_gap_leads from idgap_reader, idgap_api;
  grant select on ops.v_identity_gap_leads to idgap_worker;
  foreach f in array reader_tables loop
    execute format('grant select on %s to idgap_reader', f);
  end loop;
  foreach f in array reader_functions loop
    execute format('grant execute on function %s to idgap_reader', f);
  end loop;

  /* The API: no right in graphile_worker (those of earlier versions are taken back); it queues through ops.enqueue_from_api only. */
  revoke all on all tables in schema graphile_worker from idgap_api, idgap_reader;
  revoke all on all sequences in schema graphile_worker from idgap_api, idgap_reader;
  revoke all on all functions in schema graphile_worker from idgap_api, idgap_reader;
  revoke all on schema graphile_worker from idgap_api, idgap_reader;
  revoke all on all functions in schema ops from idgap_api;
  grant execute on function ops.enqueue_from_api(text, jsonb) to idgap_api;
  /* The review (behind the API token): the queue's pages and the decisions, security definer both. */
  grant execute on function ops.review_queue_page(integer, integer, text), ops.review_decide(text, text, text, text, text) to idgap_api;
end
$$;
comment on function ops.apply_grants() is 'Grants the privileges of idgap_worker, idgap_reader and idgap_api on the current objects; idempotent, run by idgap migrate after every change.';
