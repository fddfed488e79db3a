/*
 * The plan's near-key pairs (rules R4_PLATE_NEAR, R5_PHONE_NEAR), from the
 * plan's leads (pg_temp.plan_due, with their keys), into
 * ops.recovery_near_pairs for the run's batches and into pg_temp.plan_edges
 * (the person each driver stands for), so that components hold near keys too.
 *
 * Only the leads the exact rules leave without any candidate look for near keys
 * (R4, R5): not linked, no driver with the lead's phone, none on the lead's
 * plate (pairs a reviewer rejected count as none). A lead whose plate rule is
 * weak is R6's (the plate exact, the name near), which needs no pair of its own.
 * Checking the plate rule's names here would tokenise every plate lead's name
 * in the plan: at 1M leads the plan took minutes longer.
 * Their phones' and plates' one-deletion variants are joined by equality to
 * canon.near_key_variants; the keys found are checked for one true edit
 * (canon.one_edit: a substitution, look-alike or not, or an adjacent swap), and
 * their drivers for a name that agrees (canon.name_similarity_near at or above
 * the threshold): a near key of someone whose name disagrees is no candidate,
 * and joins no component. No scan of the drivers, no similarity join.
 * A lead one edit from more than near_max_pairs drivers keeps no pair, nor a
 * key sharing a one-deletion variant with more than 5 x near_max_pairs keys
 * (crowded keys: no evidence, and a glue of components).
 * p_enabled false (ops.settings near_keys_enabled = 0) finds none.
 * Pairs of runs no longer running are cleared first.
 */
create or replace function ops.plan_near_pairs(p_run_id bigint, p_enabled boolean, p_threshold numeric)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
/* As ops.plan_recovery, which calls it: JIT compiled this statement for 5 s on a stock server, to run 1 s. */
set jit = off
as $$
declare
  found_pairs integer := 0;
  max_pairs integer := coalesce(ops.setting_integer('near_max_pairs'), 10);
begin
  perform 'PRAGMA:TABLE: plan_due (prio integer, lead_id text, has_job boolean, linked_person_key uuid, phone_norm text, plate_norm text, lead_name text)';
  perform 'PRAGMA:TABLE: plan_edges (prio integer, anchor text, exact_candidate boolean)';
  perform 'PRAGMA:TABLE: plan_near (prio integer, lead_id text, rule_no integer, driver_id text, key_level text)';
  delete from ops.recovery_near_pairs as pairs
  where not exists (select 1 from ops.job_runs as runs where runs.id = pairs.run_id and runs.state = 'running')
     or pairs.run_id = p_run_id;
  if not p_enabled then
    return 0;
  end if;

  drop table if exists pg_temp.plan_near;
  create temp table plan_near on commit drop as
  with open_leads as materialized (
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
  ),
  /* Every one-deletion variant of the lead's plate and phone, with the deletion's position (a run of one character
     gives one variant several times: the index holds it once). Built-in string functions, no function call a key. */
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
  where canon.name_similarity_near(lead_names.lead_tokens, drivers.name_tokens) >= p_threshold
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

  insert into ops.recovery_near_pairs (run_id, lead_id, rule_no, driver_id, key_level)
  select distinct on (near.lead_id, near.rule_no, near.driver_id) p_run_id, near.lead_id, near.rule_no, near.driver_id, near.key_level
  from plan_near as near
  order by near.lead_id, near.rule_no, near.driver_id;
  insert into plan_edges (prio, anchor)
  select near.prio, ops.candidate_person(driver_links.person_key, near.driver_id)
  from plan_near as near
  left join canon.identity_links as driver_links
    on driver_links.source_table = 'drivers' and driver_links.source_pk = near.driver_id;
  drop table plan_near;
  return found_pairs;
end
$$;
comment on function ops.plan_near_pairs(bigint, boolean, numeric) is 'Step of ops.plan_recovery: the near-key pairs (R4_PLATE_NEAR, R5_PHONE_NEAR) of the plan''s leads the exact rules may leave without a person, found by equality joins on one-deletion variants, the edit and the name checked, a lead with over near_max_pairs near drivers keeps none; written to ops.recovery_near_pairs and to the plan''s edges. Returns how many pairs.';
