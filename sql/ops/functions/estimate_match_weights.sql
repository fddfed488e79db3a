/*
 * Estimates the Fellegi-Sunter weights of ops.match_weights from the data
 * itself (as Splink does), on request (idgap estimate-weights):
 *   m  from the links of the exact rules, each field from rules that do not use
 *      it: phone from R3_PLATE_NAME / R3B_PLATE_NAME_ANY_DATE links, plate, name,
 *      hire_date and park from R1_PHONE_EXACT links (the lead and the driver the
 *      link went through, compared by ops.pair_score); at most p_sample * 10 links;
 *   u  name, hire_date, park: from random lead-driver pairs (p_sample leads x
 *      p_sample drivers); phone and plate: the levels are too rare for random
 *      pairs to see, so for p_sample linked leads every driver at each level is
 *      counted through the blocking (the key's index, the near keys' variants),
 *      the lead's own person excluded, over (leads x drivers with the key);
 *   prior  the share of leads linked by a rule, divided by the drivers.
 * A level seen fewer than 5 times keeps its m or u (a default, or an earlier
 * estimate); missing keeps weight 0 (a key absent says nothing either way).
 * Returns the rows as they now are.
 */
create or replace function ops.estimate_match_weights(p_sample integer default 500)
returns table (field text, level text, m numeric, u numeric, weight numeric, method text, m_pairs bigint, u_pairs bigint, estimated_at timestamptz)
language plpgsql
volatile
set search_path = pg_catalog, public
set jit = off
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  threshold numeric := ops.setting_numeric('name_similarity_threshold');
  window_before integer := ops.setting_integer('plate_hire_window_days_before');
  window_after integer := ops.setting_integer('plate_hire_window_days_after');
  target_park text := ops.setting_text('target_park_id');
  weights jsonb := ops.match_weights_json();
  min_seen constant integer := 5;
  n_drivers bigint;
  n_leads bigint;
  n_linked bigint;
begin
  perform 'PRAGMA:TABLE: estimate_leads (lead_id text, person_key uuid, match_rule text, driver_id text, phone_norm text, plate_norm text, lead_tokens text[], lead_date date)';
  perform 'PRAGMA:TABLE: estimate_counts (field text, level text, side text, seen bigint, pairs bigint)';
  if p_sample is null or p_sample < 10 then
    raise exception 'sample must be at least 10 (got %)', p_sample using errcode = 'invalid_parameter_value';
  end if;
  select count(*) into n_drivers from canon.drivers_index;
  select count(*) into n_leads from public.module_ct_cabinet_leads;
  select count(*) into n_linked from canon.identity_links as links
  where links.source_table = 'module_ct_cabinet_leads' and links.match_rule in ('R1_PHONE_EXACT', 'R3_PLATE_NAME', 'R3B_PLATE_NAME_ANY_DATE');
  if n_drivers = 0 or n_linked = 0 then
    raise exception 'nothing to estimate from: % drivers in canon.drivers_index, % leads linked by the exact rules; refresh the index and run a recovery first', n_drivers, n_linked
      using errcode = 'object_not_in_prerequisite_state';
  end if;

  /* Linked leads (the exact rules' links), at most p_sample * 10, with their keys and the driver the link went through. */
  drop table if exists pg_temp.estimate_leads, pg_temp.estimate_counts;
  create temp table estimate_leads on commit drop as
  select links.source_pk as lead_id, links.person_key, links.match_rule, links.evidence ->> 'driver_id' as driver_id,
         canon.norm_phone(cabinet_leads.park_phone, country_code) as phone_norm,
         canon.norm_plate(cabinet_leads.asset_plate_number) as plate_norm,
         canon.name_tokens(concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name)) as lead_tokens,
         cabinet_leads.lead_created_at::date as lead_date
  from (select * from canon.identity_links as links
        where links.source_table = 'module_ct_cabinet_leads' and links.match_rule in ('R1_PHONE_EXACT', 'R3_PLATE_NAME', 'R3B_PLATE_NAME_ANY_DATE')
        order by random() limit p_sample * 10) as links
  join public.module_ct_cabinet_leads as cabinet_leads on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = links.source_pk;

  create temp table estimate_counts (field text, level text, side text, seen bigint, pairs bigint) on commit drop;

  /* m: the linked pairs' levels, each field from the links of rules that do not use it. */
  with compared as (
    select estimate_leads.match_rule,
           ops.pair_score(weights, target_park, threshold, window_before, window_after,
                          estimate_leads.phone_norm, estimate_leads.plate_norm, estimate_leads.lead_tokens, estimate_leads.lead_date,
                          idx.phone_norm, idx.plate_norm, idx.name_tokens, idx.hire_date, idx.park_id) -> 'fields' as fields
    from estimate_leads
    join canon.drivers_index as idx on idx.driver_id = estimate_leads.driver_id
  ),
  levels as (
    select field_names.field, compared.fields -> field_names.field ->> 'level' as level
    from compared
    cross join unnest(array['phone', 'plate', 'name', 'hire_date', 'park']) as field_names(field)
    where (field_names.field = 'phone') = (compared.match_rule <> 'R1_PHONE_EXACT')
  )
  insert into estimate_counts (field, level, side, seen, pairs)
  select levels.field, levels.level, 'm', count(*), sum(count(*)) over (partition by levels.field)
  from levels
  where levels.level <> 'missing'
  group by levels.field, levels.level;

  /* u of name, hire_date, park: random pairs. */
  with lead_sample as (
    select * from estimate_leads order by random() limit p_sample
  ),
  driver_sample as (
    select idx.name_tokens, idx.hire_date, idx.park_id from canon.drivers_index as idx order by random() limit p_sample
  ),
  pairs as (
    select case when coalesce(cardinality(lead_sample.lead_tokens), 0) = 0 or coalesce(cardinality(driver_sample.name_tokens), 0) = 0 then 'missing'
                when canon.name_similarity(lead_sample.lead_tokens, driver_sample.name_tokens) >= threshold then 'exact'
                when canon.name_similarity_near(lead_sample.lead_tokens, driver_sample.name_tokens) >= threshold then 'one_edit'
                else 'different' end as name_level,
           case when lead_sample.lead_date is null or driver_sample.hire_date is null then 'missing'
                when driver_sample.hire_date between lead_sample.lead_date + window_before and lead_sample.lead_date + window_after then 'exact'
                else 'different' end as hire_level,
           case when target_park is null or driver_sample.park_id is null then 'missing'
                when driver_sample.park_id = target_park then 'exact' else 'different' end as park_level
    from lead_sample cross join driver_sample
  ),
  levels as (
    select 'name' as field, pairs.name_level as level from pairs
    union all select 'hire_date', pairs.hire_level from pairs
    union all select 'park', pairs.park_level from pairs
  )
  insert into estimate_counts (field, level, side, seen, pairs)
  select levels.field, levels.level, 'u', count(*), sum(count(*)) over (partition by levels.field)
  from levels
  where levels.level <> 'missing'
  group by levels.field, levels.level;

  /* u of phone and plate: every driver at each level for p_sample linked leads, through the blocking, the lead's person excluded. */
  with lead_sample as (
    select * from estimate_leads order by random() limit p_sample
  ),
  lead_keys as (
    select lead_sample.lead_id, lead_sample.person_key, 'phone'::text as key_kind, lead_sample.phone_norm as lead_key
    from lead_sample where lead_sample.phone_norm is not null
    union all
    select lead_sample.lead_id, lead_sample.person_key, 'plate', lead_sample.plate_norm from lead_sample where lead_sample.plate_norm is not null
  ),
  near as (
    select distinct lead_keys.lead_id, lead_keys.person_key, lead_keys.key_kind, lead_keys.lead_key, variants.key
    from lead_keys
    cross join lateral unnest(canon.key_deletions(lead_keys.lead_key)) as deletion(variant)
    join canon.near_key_variants as variants on variants.key_kind = lead_keys.key_kind and variants.variant = deletion.variant
    where variants.key <> lead_keys.lead_key
  ),
  keyed as (
    select lead_keys.person_key, lead_keys.key_kind, lead_keys.lead_key as key, 'exact' as level from lead_keys
    union all
    select near.person_key, near.key_kind, near.key,
           case edit.kind when 'look_alike' then 'look_alike' else 'one_edit' end
    from near
    cross join lateral (select canon.one_edit(near.lead_key, near.key) as kind) as edit
    where edit.kind is not null
  ),
  keyed_drivers as (
    select keyed.key_kind, keyed.level, keyed.person_key, idx.driver_id
    from keyed join canon.drivers_index as idx on idx.phone_norm = keyed.key
    where keyed.key_kind = 'phone'
    union all
    select keyed.key_kind, keyed.level, keyed.person_key, idx.driver_id
    from keyed join canon.drivers_index as idx on idx.plate_norm = keyed.key
    where keyed.key_kind = 'plate'
  ),
  found as (
    select keyed_drivers.key_kind, keyed_drivers.level, count(*) as seen
    from keyed_drivers
    left join canon.identity_links as driver_links
      on driver_links.source_table = 'drivers' and driver_links.source_pk = keyed_drivers.driver_id
    where driver_links.person_key is distinct from keyed_drivers.person_key
    group by keyed_drivers.key_kind, keyed_drivers.level
  ),
  sizes as (
    select 'phone'::text as key_kind,
           (select count(*) from lead_keys where lead_keys.key_kind = 'phone') * (select count(*) from canon.drivers_index as idx where idx.phone_norm is not null) as pairs
    union all
    select 'plate', (select count(*) from lead_keys where lead_keys.key_kind = 'plate') * (select count(*) from canon.drivers_index as idx where idx.plate_norm is not null)
  )
  insert into estimate_counts (field, level, side, seen, pairs)
  select found.key_kind, found.level, 'u', found.seen, sizes.pairs
  from found join sizes on sizes.key_kind = found.key_kind
  where sizes.pairs > 0;

  /* A level seen often enough takes its estimate; the others keep theirs. */
  update ops.match_weights as weights_row
  set m = case when m_side.seen >= min_seen then m_side.seen::numeric / m_side.pairs else weights_row.m end,
      m_pairs = case when m_side.seen >= min_seen then m_side.pairs else weights_row.m_pairs end,
      u = case when u_side.seen >= min_seen then u_side.seen::numeric / u_side.pairs else weights_row.u end,
      u_pairs = case when u_side.seen >= min_seen then u_side.pairs else weights_row.u_pairs end,
      method = 'estimated',
      estimated_at = now()
  from ops.match_weights as current_row
  left join estimate_counts as m_side on m_side.field = current_row.field and m_side.level = current_row.level and m_side.side = 'm'
  left join estimate_counts as u_side on u_side.field = current_row.field and u_side.level = current_row.level and u_side.side = 'u'
  where current_row.field = weights_row.field and current_row.level = weights_row.level
    and weights_row.level <> 'missing' and weights_row.field <> 'prior'
    and (m_side.seen >= min_seen or u_side.seen >= min_seen);

  /* "different" takes what the other levels leave of u (they are rare; a random pair is almost always different). */
  update ops.match_weights as weights_row
  set u = greatest(1 - (select coalesce(sum(others.u), 0) from ops.match_weights as others
                        where others.field = weights_row.field and others.level not in ('different', 'missing')), 0.000001),
      estimated_at = now()
  where weights_row.field in ('phone', 'plate') and weights_row.level = 'different';

  update ops.match_weights as weights_row
  set m = least(greatest(n_linked::numeric / greatest(n_leads, 1) / n_drivers, 1e-12), 0.5),
      u = 1 - least(greatest(n_linked::numeric / greatest(n_leads, 1) / n_drivers, 1e-12), 0.5),
      m_pairs = n_linked, u_pairs = n_leads * n_drivers,
      method = 'estimated', estimated_at = now()
  where weights_row.field = 'prior';

  return query
  select weights_row.field, weights_row.level, weights_row.m, weights_row.u, weights_row.weight, weights_row.method,
         weights_row.m_pairs, weights_row.u_pairs, weights_row.estimated_at
  from ops.match_weights as weights_row
  order by array_position(array['prior', 'phone', 'plate', 'name', 'hire_date', 'park'], weights_row.field),
           array_position(array['any', 'exact', 'look_alike', 'one_edit', 'different', 'missing'], weights_row.level);
end
$$;
comment on function ops.estimate_match_weights(integer) is 'Re-estimates ops.match_weights from the data: m from the exact rules'' links (each field from rules that do not use it), u from random lead-driver pairs (phone and plate through the blocking), the prior from the share of linked leads; a level seen fewer than 5 times keeps its value. Returns the weights. Run by idgap estimate-weights.';
