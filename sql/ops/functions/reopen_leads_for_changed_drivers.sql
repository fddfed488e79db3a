/*
 * Targeted re-open (SPEC 3.4): a changed driver is new evidence only for the
 * leads whose keys meet its old or new keys under a rule of the catalogue.
 * Reads pg_temp.drivers_index_changes (the old and new rows of the drivers a
 * refresh changed, canon.refresh_drivers_index_of) and makes the job rows of
 * the pending (backed off or due) and failed leads they meet due now: next_attempt_at
 * = now(), status and attempt_count unchanged (ops.plan_recovery takes a
 * failed row whose next_attempt_at has passed). No other job row is written.
 *
 * Cost. The waiting leads' keys are kept in ops.lead_keys (ops.refresh_lead_keys,
 * called by the refresh first), and each changed key is an index probe. At
 * 1M leads with 333k waiting (PG 15), normalising them all on each refresh of
 * 1,000 drivers cost 12.3-12.9 s. A rule with a blocking key joins its key
 * here with no change, as long as ops.lead_keys carries that key (a key
 * without a column there fails loudly rather than re-opening nothing); the
 * near keys (phone_near, plate_near) meet the lead keys one edit away, except
 * a crowded lead key (ops.near_key_crowded), which the plan gives no near pair:
 * re-opening it would attempt it for nothing.
 */
create or replace function ops.reopen_leads_for_changed_drivers()
returns bigint
language plpgsql
volatile
set search_path = pg_catalog, public
set jit = off
as $$
declare
  key_column text;
  near_kind text;
  probe_with_neighbours boolean;
  n_changed_keys bigint;
  n_waiting_keys bigint;
  any_waiting boolean;
  met_sql text;
  max_pairs integer := coalesce(ops.setting_integer('near_max_pairs'), 10);
  near_keys boolean := coalesce(ops.setting_integer('near_keys_enabled'), 0) = 1;
  n_reopened bigint;
begin
  /* The temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: drivers_index_changes (version text, driver_id text, park_id text, phone_norm text, license_norm text, plate_norm text, name_norm text, name_tokens text[], hire_date date)';
  perform 'PRAGMA:TABLE: reopen_met (lead_id text)';
  perform 'PRAGMA:TABLE: reopened_leads (lead_id text)';
  /* The leads re-opened, for the caller's plan (ops.plan_arrivals). */
  drop table if exists pg_temp.reopened_leads, pg_temp.reopen_met;
  create temp table reopened_leads (lead_id text not null) on commit drop;
  if not exists (select 1 from pg_temp.drivers_index_changes) then
    return 0;
  end if;

  create temp table reopen_met (lead_id text not null) on commit drop;
  /* One join a blocking key of the catalogue, on the changed drivers' old and new rows alike. */
  for key_column, near_kind in
    select distinct
           case rules.blocking_key when 'phone_near' then 'phone_norm' when 'plate_near' then 'plate_norm' else rules.blocking_key end,
           case rules.blocking_key when 'phone_near' then 'digits' when 'plate_near' then 'alnum' end
    from ops.match_rules as rules
    where rules.kind = 'match' and rules.blocking_key is not null
      and (rules.blocking_key not in ('phone_near', 'plate_near') or near_keys)
    order by 1, 2
  loop
    /* No waiting lead carries the key (a first build, say): nothing to meet. */
    execute format('select exists (select 1 from ops.lead_keys as keys where keys.%1$I is not null)', key_column)
      into any_waiting;
    continue when not any_waiting;
    if near_kind is null then
      probe_with_neighbours := null;
    else
      /* A near key (R4, R5) meets the lead keys one substitution or adjacent swap away. Two ways, both exact:
         probe ops.lead_keys with each changed key's neighbours (canon.key_neighbours: about 10 x length keys for a
         phone, 36 x length for a plate: about 100 / 250 index probes per changed key), or join the one-deletion
         variants of the changed keys and of the waiting leads' keys (canon.key_deletions, about length rows per key)
         and keep the pairs canon.one_edit confirms. Probing costs per changed key, the join per waiting lead: measured
         on PG 15 at 100k changed keys, probing took 17.9 s (phones) and 42.8 s (plates), 180 / 430 us a key, and
         the join about 15 us a key on either side. Probe while the changed keys are few against the waiting leads. */
      execute format('select count(distinct changes.%1$I) from pg_temp.drivers_index_changes as changes', key_column)
        into n_changed_keys;
      execute format('select count(*) from ops.lead_keys as keys where keys.%1$I is not null', key_column)
        into n_waiting_keys;
      probe_with_neighbours := n_changed_keys * (case near_kind when 'digits' then 12 else 30 end) <= n_waiting_keys;
    end if;
    raise debug 'ops.reopen_leads_for_changed_drivers: % by %', key_column,
      case when near_kind is null then 'equality' when probe_with_neighbours then 'neighbour probes' else 'deletion variants' end;
    /* The leads a changed key meets, by the key (one index probe per key) or one edit away, into reopen_met. */
    met_sql := case
      when near_kind is null then
        'select keys.lead_id from changed_keys join ops.lead_keys as keys on keys.%1$I = changed_keys.key'
      when probe_with_neighbours then
        'select distinct keys.lead_id, keys.%1$I as key
         from changed_keys
         cross join lateral unnest(canon.key_neighbours(changed_keys.key, %2$L = ''digits'')) as probe(key)
         join ops.lead_keys as keys on keys.%1$I = probe.key'
      else
        /* Sharing a deletion variant is one substitution, adjacent swap or an indel apart: keep the first two
           (canon.one_edit without indels; a phone holds digits only, so no look-alike there). */
        'with waiting as materialized (
           select keys.lead_id, keys.%1$I as key, deletion.variant
           from ops.lead_keys as keys
           cross join lateral unnest(canon.key_deletions(keys.%1$I)) as deletion(variant)
           where keys.%1$I is not null
         ),
         changed as materialized (
           select changed_keys.key, deletion.variant
           from changed_keys
           cross join lateral unnest(canon.key_deletions(changed_keys.key)) as deletion(variant)
         )
         select distinct waiting.lead_id, waiting.key
         from waiting
         join changed on changed.variant = waiting.variant
         where canon.one_edit(waiting.key, changed.key) is not null'
    end;
    if near_kind is not null then
      /* A crowded lead key gets no near pair in the plan: re-opening it would attempt it for nothing. */
      met_sql := 'select near.lead_id from (' || met_sql || ' offset 0) as near where not ops.near_key_crowded(near.key, %3$L, %4$s)';
    end if;
    execute format(
      'with changed_keys as materialized (
         select distinct changes.%1$I as key from pg_temp.drivers_index_changes as changes where changes.%1$I is not null
       )
       insert into reopen_met (lead_id) ' || met_sql,
      key_column, near_kind, case near_kind when 'digits' then 'phone' else 'plate' end, 5 * max_pairs);
  end loop;

  /* Their job rows that wait, made due now. */
  with reopened as (
    update ops.identity_matching_jobs as jobs
    set next_attempt_at = now()
    from (select distinct met.lead_id from reopen_met as met) as met
    where jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = met.lead_id and ops.job_waits(jobs.status)
    returning jobs.source_id
  )
  insert into reopened_leads (lead_id)
  select reopened.source_id from reopened;
  get diagnostics n_reopened = row_count;
  return n_reopened;
end
$$;
comment on function ops.reopen_leads_for_changed_drivers() is 'Makes due now (next_attempt_at = now(), status and attempt count unchanged) the pending and failed leads whose keys (ops.lead_keys) meet the old or new keys of the drivers in pg_temp.drivers_index_changes under a rule of ops.match_rules; returns how many and lists their lead_id in pg_temp.reopened_leads. Called by canon.refresh_drivers_index_of inside its transaction.';
