/*
 * Refreshes canon.drivers_index for the given drivers (p_driver_ids: the
 * incremental refresh of the drivers an arrival run took from
 * ops.driver_changes), or for every driver (null: the full refresh,
 * canon.refresh_drivers_index()). One path for both:
 *   1. normalise the drivers with canon.drivers_index_rows (the one definition
 *      of a row) into a temp table (CREATE TABLE AS can run in parallel);
 *   2. keep in pg_temp.drivers_index_changes the changed drivers' old rows (the
 *      index's, before the write: a driver's old keys) and new rows (the
 *      source's): only rows whose content differs, so a refresh that changes
 *      nothing writes nothing (PERFORMANCE-NOTES: 23 s at 1.4M drivers when
 *      every row was rewritten);
 *   3. delete, update and insert those drivers' index rows;
 *   4. re-open the leads the changed drivers meet, old keys or new
 *      (ops.reopen_leads_for_changed_drivers): no other lead is re-opened;
 *   5. keep canon.drivers_index_state: content_changed_at moves only when a row
 *      changed; last_refreshed_at only on a full refresh (the safety net's
 *      clock); row_count follows the rows inserted and deleted.
 * Maintenance that follows the index (near-key variants) hooks in after step 3:
 * pg_temp.drivers_index_changes names every driver changed, on both paths.
 * Serialised by an advisory lock so two refreshes never interleave.
 */
create or replace function canon.refresh_drivers_index_of(p_driver_ids text[] default null)
returns table (inserted bigint, updated bigint, deleted bigint, total bigint, content_changed boolean, reopened bigint)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  full_refresh boolean := p_driver_ids is null;
  n_inserted bigint;
  n_updated bigint;
  n_deleted bigint;
  n_total bigint;
  n_changed bigint;
  n_reopened bigint;
  was_empty boolean;
  secondary_indexes text[] := '{}'::text[];
  index_definition text;
  index_name text;
begin
  perform pg_advisory_xact_lock(hashtextextended('idgap.refresh_drivers_index', 0));
  set local work_mem = '256MB';
  /* The temporary tables below, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: refresh_drivers_src (driver_id text, park_id text, phone_norm text, license_norm text, plate_norm text, name_norm text, name_tokens text[], hire_date date)';
  perform 'PRAGMA:TABLE: drivers_index_changes (version text, driver_id text, park_id text, phone_norm text, license_norm text, plate_norm text, name_norm text, name_tokens text[], hire_date date)';

  drop table if exists pg_temp.refresh_drivers_src, pg_temp.drivers_index_changes;
  create temp table refresh_drivers_src on commit drop as
  select rows.driver_id, rows.park_id, rows.phone_norm, rows.license_norm, rows.plate_norm, rows.name_norm, rows.name_tokens, rows.hire_date
  from canon.drivers_index_rows(country_code, p_driver_ids) as rows;
  select full_refresh and not exists (select 1 from canon.drivers_index) into was_empty;
  /* The key and statistics serve the comparison with the rows there are; a first build has none to compare with
     (first build of 1M drivers: 18.1-18.3 s with them, 16.9-17.7 s without). */
  if not was_empty then
    alter table refresh_drivers_src add primary key (driver_id);
    analyze refresh_drivers_src;
  end if;

  create temp table drivers_index_changes (
    version text not null, driver_id text not null, park_id text, phone_norm text, license_norm text, plate_norm text,
    name_norm text, name_tokens text[], hire_date date
  ) on commit drop;
  if was_empty then
    insert into drivers_index_changes
    select 'new', src.driver_id, src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date
    from refresh_drivers_src as src;
  else
    insert into drivers_index_changes
    select 'old', idx.driver_id, idx.park_id, idx.phone_norm, idx.license_norm, idx.plate_norm, idx.name_norm, idx.name_tokens, idx.hire_date
    from canon.drivers_index as idx
    where (full_refresh or idx.driver_id = any (p_driver_ids))
      and not exists (
        select 1 from refresh_drivers_src as src
        where src.driver_id = idx.driver_id
          and (idx.park_id, idx.phone_norm, idx.license_norm, idx.plate_norm, idx.name_norm, idx.name_tokens, idx.hire_date)
              is not distinct from
              (src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date));
    insert into drivers_index_changes
    select 'new', src.driver_id, src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date
    from refresh_drivers_src as src
    where not exists (
        select 1 from canon.drivers_index as idx
        where idx.driver_id = src.driver_id
          and (idx.park_id, idx.phone_norm, idx.license_norm, idx.plate_norm, idx.name_norm, idx.name_tokens, idx.hire_date)
              is not distinct from
              (src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date));
  end if;
  select count(*) into n_changed from drivers_index_changes;
  if n_changed > 0 and not was_empty then
    create index on pg_temp.drivers_index_changes (driver_id, version);
  end if;
  analyze pg_temp.drivers_index_changes;

  delete from canon.drivers_index as idx
  using drivers_index_changes as old_rows
  where old_rows.version = 'old' and old_rows.driver_id = idx.driver_id
    and not exists (select 1 from drivers_index_changes as new_rows where new_rows.version = 'new' and new_rows.driver_id = old_rows.driver_id);
  get diagnostics n_deleted = row_count;

  update canon.drivers_index as idx
  set park_id = new_rows.park_id,
      phone_norm = new_rows.phone_norm,
      license_norm = new_rows.license_norm,
      plate_norm = new_rows.plate_norm,
      name_norm = new_rows.name_norm,
      name_tokens = new_rows.name_tokens,
      hire_date = new_rows.hire_date,
      refreshed_at = now()
  from drivers_index_changes as new_rows
  where new_rows.version = 'new' and new_rows.driver_id = idx.driver_id;
  get diagnostics n_updated = row_count;

  /*
   * First build into an empty index: drop the secondary indexes and build them after the load
   * (1.8 s vs 4.7-6.4 s for 283k drivers, PERFORMANCE-NOTES). Their definitions are read from
   * the catalog, so the migration stays the only place they are defined.
   */
  if was_empty then
    select coalesce(array_agg(pg_get_indexdef(indexes.indexrelid)), '{}') into secondary_indexes
    from pg_catalog.pg_index as indexes
    where indexes.indrelid = 'canon.drivers_index'::regclass and not indexes.indisprimary;
    for index_name in
      select index_class.relname from pg_catalog.pg_index as indexes
      join pg_catalog.pg_class as index_class on index_class.oid = indexes.indexrelid
      where indexes.indrelid = 'canon.drivers_index'::regclass and not indexes.indisprimary
    loop
      execute format('drop index canon.%I', index_name);
    end loop;
  end if;

  /* Sorted by the key: 1.5-1.8x faster inserts into the primary key (PERFORMANCE-NOTES). */
  insert into canon.drivers_index (driver_id, park_id, phone_norm, license_norm, plate_norm, name_norm, name_tokens, hire_date, refreshed_at)
  select new_rows.driver_id, new_rows.park_id, new_rows.phone_norm, new_rows.license_norm, new_rows.plate_norm, new_rows.name_norm,
         new_rows.name_tokens, new_rows.hire_date, now()
  from drivers_index_changes as new_rows
  where new_rows.version = 'new'
    and (was_empty or not exists (select 1 from drivers_index_changes as old_rows where old_rows.version = 'old' and old_rows.driver_id = new_rows.driver_id))
  order by new_rows.driver_id;
  get diagnostics n_inserted = row_count;

  foreach index_definition in array secondary_indexes loop
    execute index_definition;
  end loop;
  select count(*) into n_total from refresh_drivers_src;
  drop table refresh_drivers_src;

  /* The waiting leads' keys: those it lacks, or (the safety net) all of them again. */
  if full_refresh or n_changed > 0 then
    perform ops.refresh_lead_keys(full_refresh);
  end if;
  n_reopened := ops.reopen_leads_for_changed_drivers();

  update canon.drivers_index_state as state
  set last_refreshed_at = case when full_refresh then clock_timestamp() else state.last_refreshed_at end,
      content_changed_at = case when n_changed > 0 then clock_timestamp() else state.content_changed_at end,
      row_count = case when full_refresh then n_total else coalesce(state.row_count, 0) + n_inserted - n_deleted end
  returning state.row_count into n_total;

  /* An incremental refresh leaves small changes to autovacuum; a tenth of the index or more is analysed now. */
  if n_changed > 0 and (full_refresh or n_inserted + n_updated + n_deleted > 0.1 * greatest(n_total, 1000)) then
    analyze canon.drivers_index;
  end if;

  /* The near keys' variants follow the phones and plates (docs/matching-rules.md, section 6): an incremental refresh
     compares only the keys of the drivers it changed; built whole once for an index filled before they existed. */
  if n_changed > 0 or (n_total > 0 and not exists (select 1 from canon.near_keys)) then
    perform canon.refresh_near_keys(not full_refresh);
  end if;

  return query select n_inserted, n_updated, n_deleted, n_total, (n_changed > 0), n_reopened;
end
$$;
comment on function canon.refresh_drivers_index_of(text[]) is 'Refreshes canon.drivers_index for the given drivers (null: every driver), writing only rows that changed, and re-opens only the leads the changed drivers meet (old or new keys); returns the counts, whether the content changed and how many leads were re-opened. The changed rows stay in pg_temp.drivers_index_changes until the transaction ends.';
