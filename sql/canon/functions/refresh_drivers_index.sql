/*
 * The full refresh, the nightly safety net: canon.refresh_drivers_index_of for
 * every driver (the incremental refresh's path, so after incremental refreshes
 * it finds nothing left to change, and it re-opens only the leads the drivers
 * it changes meet).
 */
create or replace function canon.refresh_drivers_index()
returns table (inserted bigint, updated bigint, deleted bigint, total bigint, content_changed boolean)
language sql
volatile
as $$
  select refreshed.inserted, refreshed.updated, refreshed.deleted, refreshed.total, refreshed.content_changed
  from canon.refresh_drivers_index_of(null) as refreshed
$$;
comment on function canon.refresh_drivers_index() is 'Rebuilds canon.drivers_index from public.drivers, writing only rows that changed and re-opening only the leads the changed drivers meet; returns the counts and whether the content changed.';
