/*
 * Brings canon.near_keys and canon.near_key_variants in line with the phones and
 * plates of canon.drivers_index: keys no driver has any more leave with their
 * variants (deleted by primary key: the variants are computed again), new keys
 * come in with theirs. Called by canon.refresh_drivers_index when its content
 * changed, inside its transaction and lock. A first build into empty tables
 * loads the variants sorted without the primary key and builds it after
 * (PERFORMANCE-NOTES: building an index after a bulk load is 2-3x cheaper).
 */
create or replace function canon.refresh_near_keys(out keys_inserted bigint, out keys_deleted bigint, out variants_total bigint)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  was_empty boolean;
begin
  set local work_mem = '256MB';
  perform 'PRAGMA:TABLE: near_keys_now (key_kind text, key text)';
  perform 'PRAGMA:TABLE: near_keys_gone (key_kind text, key text)';
  perform 'PRAGMA:TABLE: near_keys_new (key_kind text, key text)';
  drop table if exists pg_temp.near_keys_now, pg_temp.near_keys_gone, pg_temp.near_keys_new;
  create temp table near_keys_now on commit drop as
  select 'phone'::text as key_kind, idx.phone_norm as key from canon.drivers_index as idx where idx.phone_norm is not null
  union
  select 'plate'::text, idx.plate_norm from canon.drivers_index as idx where idx.plate_norm is not null;
  select not exists (select 1 from canon.near_keys) into was_empty;

  create temp table near_keys_gone on commit drop as
  select keys.key_kind, keys.key
  from canon.near_keys as keys
  where not exists (select 1 from near_keys_now as now_keys where now_keys.key_kind = keys.key_kind and now_keys.key = keys.key);
  create temp table near_keys_new on commit drop as
  select now_keys.key_kind, now_keys.key
  from near_keys_now as now_keys
  where was_empty
     or not exists (select 1 from canon.near_keys as keys where keys.key_kind = now_keys.key_kind and keys.key = now_keys.key);

  delete from canon.near_key_variants as variants
  using near_keys_gone as gone
  cross join lateral unnest(canon.key_deletions(gone.key)) as deletion(variant)
  where variants.key_kind = gone.key_kind and variants.variant = deletion.variant and variants.key = gone.key;
  delete from canon.near_keys as keys
  using near_keys_gone as gone
  where keys.key_kind = gone.key_kind and keys.key = gone.key;
  get diagnostics keys_deleted = row_count;

  insert into canon.near_keys (key_kind, key)
  select new_keys.key_kind, new_keys.key from near_keys_new as new_keys order by 1, 2;
  get diagnostics keys_inserted = row_count;

  if was_empty then
    alter table canon.near_key_variants drop constraint near_key_variants_pkey;
  end if;
  if was_empty then
    /* No index to keep while loading: no sort either; the key is built once after (a larger sort memory for it). */
    insert into canon.near_key_variants (key_kind, variant, key)
    select new_keys.key_kind, deletion.variant, new_keys.key
    from near_keys_new as new_keys
    cross join lateral unnest(canon.key_deletions(new_keys.key)) as deletion(variant);
    set local maintenance_work_mem = '512MB';
    alter table canon.near_key_variants add constraint near_key_variants_pkey primary key (key_kind, variant, key);
  else
    /* Sorted by the key: cheaper inserts into the primary key (PERFORMANCE-NOTES). */
    insert into canon.near_key_variants (key_kind, variant, key)
    select new_keys.key_kind, deletion.variant, new_keys.key
    from near_keys_new as new_keys
    cross join lateral unnest(canon.key_deletions(new_keys.key)) as deletion(variant)
    order by 1, 2, 3;
  end if;

  if keys_inserted + keys_deleted > 0 then
    analyze canon.near_keys, canon.near_key_variants;
  end if;
  /* The planner's count, fresh after the analyze above (counting 10M rows would cost a second). */
  select greatest(tables.reltuples, 0)::bigint into variants_total
  from pg_catalog.pg_class as tables where tables.oid = 'canon.near_key_variants'::regclass;
  drop table near_keys_now, near_keys_gone, near_keys_new;
end
$$;
comment on function canon.refresh_near_keys() is 'Brings canon.near_keys and canon.near_key_variants (the one-deletion variants of the drivers'' phones and plates) in line with canon.drivers_index; returns the keys inserted and deleted and about how many variant rows there are. Called by canon.refresh_drivers_index when its content changed.';
