/*
 * Phase 2 of the plan of a recovery run (ops.plan_recovery_leads): the
 * near-key pairs (rules R4_PLATE_NEAR, R5_PHONE_NEAR) of one part of the run's
 * work list ops.recovery_near_leads (the due leads the exact rules leave
 * without any candidate: not linked, no driver with the lead's phone, none on
 * its plate), into ops.recovery_near_pairs, which the components join
 * (ops.plan_recovery_components) and the batches read. Part p of n takes the
 * leads whose prio modulo n is p: a lead's pairs depend on the lead and the
 * index only, so the parts run on any number of connections at once (the
 * runner gives the second one to its second lane) and any split gives the same
 * pairs; ops.plan_recovery runs part 0 of 1.
 *
 * A lead whose plate rule is weak is R6's (the plate exact, the name near),
 * which needs no pair of its own. Checking the plate rule's names here would
 * tokenise every plate lead's name in the plan: at 1M leads the plan took
 * minutes longer.
 * Their phones' and plates' one-deletion variants are joined by equality to
 * canon.near_key_variants; the keys found are checked for one true edit
 * (canon.one_edit: a substitution, look-alike or not, or an adjacent swap), and
 * their drivers for a name that agrees (canon.name_similarity_near at or above
 * the threshold): a near key of someone whose name disagrees is no candidate,
 * and joins no component. No scan of the drivers, no similarity join.
 * A lead one edit from more than near_max_pairs drivers keeps no pair, nor a
 * key sharing a one-deletion variant with more than 5 x near_max_pairs keys
 * (crowded keys: no evidence, and a glue of components). A pair a reviewer
 * rejected is none.
 */
create or replace function ops.plan_near_pairs(p_run_id bigint, p_part integer default 0, p_parts integer default 1)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
/* As ops.plan_recovery, which calls it: JIT compiled this statement for 5 s on a stock server, to run 1 s. */
set jit = off
set max_parallel_workers_per_gather = 0
as $$
declare
  found_pairs integer := 0;
  max_pairs integer := coalesce(ops.setting_integer('near_max_pairs'), 10);
  threshold numeric := ops.setting_numeric('name_similarity_threshold');
begin
  perform 'PRAGMA:TABLE: plan_near_leads (prio integer, lead_id text, phone_norm text, plate_norm text, lead_name text)';
  perform 'PRAGMA:TABLE: plan_near (prio integer, lead_id text, rule_no integer, driver_id text, key_level text)';
  if p_parts is null or p_parts < 1 or p_part is null or p_part < 0 or p_part >= p_parts then
    raise exception 'part must be between 0 and parts - 1, and parts at least 1 (got part %, parts %)', p_part, p_parts
      using errcode = 'invalid_parameter_value';
  end if;

  /* The part's leads, in a table of this session with statistics: read from the work list itself (no statistics of
     this run, and a filter of unknown selectivity), the planner counted one lead where there were 39,491 and read a
     CTE of 50,000 drivers for each (161 s at 1M). */
  drop table if exists pg_temp.plan_near_leads, pg_temp.plan_near;
  create temp table plan_near_leads on commit drop as
  select near_leads.prio, near_leads.lead_id, near_leads.phone_norm, near_leads.plate_norm, near_leads.lead_name
  from ops.recovery_near_leads as near_leads
  where near_leads.run_id = p_run_id and near_leads.prio % p_parts = p_part;
  analyze pg_temp.plan_near_leads;
  create temp table plan_near on commit drop as
  with open_leads as materialized (
    select near_leads.prio, near_leads.lead_id, near_leads.phone_norm, near_leads.plate_norm, near_leads.lead_name
    from plan_near_leads as near_leads
  ),
  /* Every one-deletion variant of the lead's plate and phone, with the deletion's position: the variants of
     canon.key_deletions (which built the index side), where a run of one character gives one variant several times,
     once a position. Built-in string functions, no function call a key. */
  lead_variants as (
    select open_leads.prio, keys.rule_no, keys.key_kind, keys.lead_key, deletion.position,
           left(keys.lead_key, deletion.position - 1) || substr(keys.lead_key, deletion.position + 1) as variant
    from open_leads
    cross join lateral (values (4, 'plate'::text, open_leads.plate_norm), (5, 'phone'::text, open_leads.phone_norm))
      as keys (rule_no, key_kind, lead_key)
    cross join lateral generate_series(1, length(keys.lead_key)) as deletion (position)
    where keys.lead_key is not null
  ),
  near_keys as (
    select lead_variants.prio, lead_variants.rule_no, lead_variants.lead_key, variants.key,
           /* One edit (a substitution, or a swap of two adjacent characters) leaves the keys equal outside the deletion's
              position and its neighbours, for the variant deleted where the edit is. Most keys sharing a variant differ
              elsewhere (the deletions at positions apart: 'JL6884' and 'L6D884' share 'L6884'): at 1M leads 473k of the
              604k plates found, whose edit check this test of two string comparisons spares (3.0 -> 1 s). */
           bool_or(left(variants.key, greatest(lead_variants.position - 2, 0)) = left(lead_variants.lead_key, greatest(lead_variants.position - 2, 0))
                   and substr(variants.key, lead_variants.position + 2) = substr(lead_variants.lead_key, lead_variants.position + 2)) as may_be_one_edit
    from lead_variants
    /* Probes of the variants' primary key, never a hash of the whole table (17M rows at 1M drivers): OFFSET 0 keeps
       the sub-select a lateral probe per lead variant. */
    cross join lateral (
      select near.key from canon.near_key_variants as near
      where near.key_kind = lead_variants.key_kind and near.variant = lead_variants.variant
      offset 0
    ) as variants
    where variants.key <> lead_variants.lead_key
    group by lead_variants.prio, lead_variants.rule_no, lead_variants.lead_key, variants.key
  ),
  edited as (
    select near_keys.prio, near_keys.rule_no, near_keys.key,
           case when edit.kind = 'look_alike' then 'look_alike' when edit.kind is not null then 'one_edit' end as key_level
    from near_keys
    cross join lateral (select case when near_keys.may_be_one_edit then canon.one_edit(near_keys.lead_key, near_keys.key) end as kind) as edit
    /* A key sharing a one-deletion variant with more than 5 x near_max_pairs keys of the index lies in a crowded
       region (a block of consecutive phones: about 240 such keys a phone); it would keep no pair below anyway, and
       checking each edit and name cost 5.9 s of a 6.3 s plan for 6,097 such leads on PG 15. Only the lead's own key
       counts: the same for any plan. */
    where near_keys.may_be_one_edit
      and (near_keys.prio, near_keys.rule_no) not in (
        select crowded.prio, crowded.rule_no from near_keys as crowded
        group by crowded.prio, crowded.rule_no having count(*) > 5 * max_pairs)
  ),
  drivers as (
    select edited.prio, edited.rule_no, edited.key_level, idx.driver_id, idx.name_tokens
    from edited
    join canon.drivers_index as idx on idx.plate_norm = edited.key
    where edited.rule_no = 4 and edited.key_level is not null
    union all
    select edited.prio, edited.rule_no, edited.key_level, idx.driver_id, idx.name_tokens
    from edited
    join canon.drivers_index as idx on idx.phone_norm = edited.key
    where edited.rule_no = 5 and edited.key_level is not null
  ),
  /* The lead's tokens once a lead, only for the leads with a near key (a few per cent of them). */
  lead_names as materialized (
    select open_leads.prio, open_leads.lead_id, canon.name_tokens(open_leads.lead_name) as lead_tokens
    from open_leads
    where open_leads.prio in (select drivers.prio from drivers)
  )
  select drivers.prio, lead_names.lead_id, drivers.rule_no, drivers.driver_id, drivers.key_level
  from drivers
  join lead_names on lead_names.prio = drivers.prio
  where canon.name_similarity_near(lead_names.lead_tokens, drivers.name_tokens) >= threshold
    and not exists (select 1 from ops.review_decisions as rejected
                    where rejected.decision = 'reject' and rejected.lead_id = lead_names.lead_id
                      and rejected.driver_id = drivers.driver_id);

  /* Crowded keys: a lead one edit from more than near_max_pairs drivers (names agreeing) keeps no pair. So many
     neighbours (a block of consecutive phones, a plate series) make one edit no evidence, and their pairs would glue
     the components into one batch: 100,000 leads with consecutive phones and one name made 1.1M pairs and a component
     of 99,999 leads. Counted per lead against the whole index, never against the plan's other leads, so that a
     lead's pairs do not depend on which leads a run plans. */
  delete from plan_near as near
  where near.prio in (select crowded.prio from plan_near as crowded group by crowded.prio
                      having count(distinct crowded.driver_id) > max_pairs);
  select count(*) into found_pairs from plan_near;

  /* A part found again (its connection was lost after it committed) replaces its pairs. */
  delete from ops.recovery_near_pairs as pairs
  where pairs.run_id = p_run_id and pairs.prio % p_parts = p_part;
  insert into ops.recovery_near_pairs (run_id, lead_id, rule_no, driver_id, key_level, prio)
  select distinct on (near.lead_id, near.rule_no, near.driver_id) p_run_id, near.lead_id, near.rule_no, near.driver_id, near.key_level, near.prio
  from plan_near as near
  order by near.lead_id, near.rule_no, near.driver_id;
  drop table plan_near, plan_near_leads;
  return found_pairs;
end
$$;
comment on function ops.plan_near_pairs(bigint, integer, integer) is 'Phase 2 of the plan of a recovery run: the near-key pairs (R4_PLATE_NEAR, R5_PHONE_NEAR) of part p_part of p_parts (prio modulo p_parts) of the run''s ops.recovery_near_leads, found by equality joins on one-deletion variants, the edit and the name checked, a lead with over near_max_pairs near drivers keeping none; written to ops.recovery_near_pairs. Parts run on any number of connections at once. Returns how many pairs.';
