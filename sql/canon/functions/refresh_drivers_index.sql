/*
 * Set-based rebuild of canon.drivers_index from public.drivers:
 *   1. normalise every driver once into a temp table (CREATE TABLE AS can run in parallel);
 *   2. delete, update and insert only the rows whose content differs, so that a
 *      refresh that changes nothing writes nothing (PERFORMANCE-NOTES: 23 s at
 *      1.4M drivers when every row was rewritten);
 *   3. move canon.drivers_index_state.content_changed_at only when a row changed:
 *      that clock is the "new evidence" signal that re-opens failed leads.
 * Serialised by an advisory lock so two refreshes never interleave.
 */
create or replace function canon.refresh_drivers_index()
returns table (inserted bigint, updated bigint, deleted bigint, total bigint, content_changed boolean)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  n_inserted bigint;
  n_updated bigint;
  n_deleted bigint;
  n_total bigint;
  was_empty boolean;
  secondary_indexes text[] := '{}'::text[];
  index_definition text;
  index_name text;
begin
  perform pg_advisory_xact_lock(hashtextextended('idgap.refresh_drivers_index', 0));
  set local work_mem = '256MB';
  /* The temporary table below, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: refresh_drivers_src (driver_id text, park_id text, phone_norm text, license_norm text, plate_norm text, name_norm text, name_tokens text[], hire_date date)';

  drop table if exists pg_temp.refresh_drivers_src;
  create temp table refresh_drivers_src on commit drop as
  select drivers.driver_id,
         drivers.park_id,
         canon.norm_phone(drivers.phone, country_code) as phone_norm,
         canon.norm_plate(coalesce(nullif(drivers.license_normalized_number, ''), drivers.license_number)) as license_norm,
         canon.norm_plate(coalesce(nullif(drivers.car_normalized_number, ''), drivers.car_number)) as plate_norm,
         named.name_norm,
         canon.name_tokens_of_normalised(named.name_norm) as name_tokens,
         drivers.hire_date
  from public.drivers as drivers
  /* No OFFSET 0 fence to normalise the name once: it made the statement lose its parallel plan (1M drivers: 17.4 s vs 11.9 s). */
  cross join lateral (
    select canon.norm_name(canon.driver_name(drivers.full_name, drivers.first_name, drivers.middle_name, drivers.last_name)) as name_norm
  ) as named;
  select not exists (select 1 from canon.drivers_index) into was_empty;
  /* The key and statistics serve the comparison with the rows there are; a first build has none to compare with
     (first build of 1M drivers: 18.1-18.3 s with them, 16.9-17.7 s without). */
  if not was_empty then
    alter table refresh_drivers_src add primary key (driver_id);
    analyze refresh_drivers_src;
  end if;

  delete from canon.drivers_index as idx
  where not exists (select 1 from refresh_drivers_src as src where src.driver_id = idx.driver_id);
  get diagnostics n_deleted = row_count;

  update canon.drivers_index as idx
  set park_id = src.park_id,
      phone_norm = src.phone_norm,
      license_norm = src.license_norm,
      plate_norm = src.plate_norm,
      name_norm = src.name_norm,
      name_tokens = src.name_tokens,
      hire_date = src.hire_date,
      refreshed_at = now()
  from refresh_drivers_src as src
  where src.driver_id = idx.driver_id
    and (idx.park_id, idx.phone_norm, idx.license_norm, idx.plate_norm, idx.name_norm, idx.name_tokens, idx.hire_date)
        is distinct from
        (src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date);
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
  select src.driver_id, src.park_id, src.phone_norm, src.license_norm, src.plate_norm, src.name_norm, src.name_tokens, src.hire_date, now()
  from refresh_drivers_src as src
  where was_empty or not exists (select 1 from canon.drivers_index as idx where idx.driver_id = src.driver_id)
  order by src.driver_id;
  get diagnostics n_inserted = row_count;

  foreach index_definition in array secondary_indexes loop
    execute index_definition;
  end loop;

  select count(*) into n_total from refresh_drivers_src;
  drop table refresh_drivers_src;

  update canon.drivers_index_state
  set last_refreshed_at = clock_timestamp(),
      content_changed_at = case when n_inserted + n_updated + n_deleted > 0 then clock_timestamp() else content_changed_at end,
      row_count = n_total;

  if n_inserted + n_updated + n_deleted > 0 then
    analyze canon.drivers_index;
  end if;
  /* The near keys' variants follow the phones and plates (docs/matching-rules.md, section 6); built once for an index
     filled before they existed. */
  if n_inserted + n_updated + n_deleted > 0 or (n_total > 0 and not exists (select 1 from canon.near_keys)) then
    perform canon.refresh_near_keys();
  end if;

  return query select n_inserted, n_updated, n_deleted, n_total, (n_inserted + n_updated + n_deleted > 0);
end
$$;
comment on function canon.refresh_drivers_index() is 'Rebuilds canon.drivers_index from public.drivers, writing only rows that changed; returns the counts and whether the content changed.';
