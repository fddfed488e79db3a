/*
 * The review queue: the candidates the last recovery run that evaluated a lead
 * stored (ops.lead_candidates), for the leads still unresolved, with what a
 * reviewer needs to decide side by side. Read, not matched again: every join
 * is an index probe per candidate row (the leads' lead_id index, the drivers'
 * and the drivers index's primary keys, the links' unique (source_pk,
 * source_table) key, the rejected pairs' index), so a page of leads reads fast.
 *
 * A lead linked since (by a decision, a later run or by hand) leaves the
 * queue; a pair a reviewer rejected is never shown again, and the ranks close
 * up over what is left (1 = best). The phones are masked (ops.mask_phone); the
 * agreement columns compare the normalised keys in the database.
 *
 * Personal data (names, plates, dates): never granted to idgap_reader
 * (ops.apply_grants); the API reads it through ops.review_queue_page.
 */
create or replace view ops.v_identity_review_queue as
with settings as (
  /* Read once per query, not once per row. */
  select ops.setting_text('default_country_code') as country_code,
         ops.setting_numeric('name_similarity_threshold') as name_threshold,
         ops.setting_integer('plate_hire_window_days_before') as window_before,
         ops.setting_integer('plate_hire_window_days_after') as window_after
),
candidates as (
  select candidates.lead_id, candidates.candidate_rank, candidates.driver_id, candidates.match_rule, candidates.score,
         candidates.evidence, candidates.queue_reason, candidates.run_id, candidates.evaluated_at
  from ops.lead_candidates as candidates
),
open_candidates as (
  select candidates.*
  from candidates
  where not exists (select 1 from canon.identity_links as lead_links
                    where lead_links.source_pk = candidates.lead_id and lead_links.source_table = 'module_ct_cabinet_leads')
    and not exists (select 1 from ops.review_decisions as decisions
                    where decisions.lead_id = candidates.lead_id and decisions.driver_id = candidates.driver_id
                      and decisions.decision = 'reject')
),
with_leads as (
  /* lead_id is unique (000007): a plain join on its index. */
  select open_candidates.*, leads.lead_created_at, leads.park_phone, leads.asset_plate_number, leads.park_name,
         nullif(concat_ws(' ', leads.first_name, leads.middle_name, leads.last_name), '') as lead_name
  from open_candidates
  join public.module_ct_cabinet_leads as leads on coalesce(leads.external_id, leads.id::text) = open_candidates.lead_id
),
with_drivers as (
  select with_leads.*, drivers.park_id as driver_park_id, drivers.phone as driver_phone, drivers.car_number as driver_plate,
         drivers.hire_date, canon.driver_name(drivers.full_name, drivers.first_name, drivers.middle_name, drivers.last_name) as driver_name,
         driver_keys.phone_norm as driver_phone_norm, driver_keys.plate_norm as driver_plate_norm, driver_keys.name_tokens as driver_name_tokens,
         driver_links.person_key
  from with_leads
  join public.drivers as drivers on drivers.driver_id = with_leads.driver_id
  left join canon.drivers_index as driver_keys on driver_keys.driver_id = with_leads.driver_id
  left join canon.identity_links as driver_links
    on driver_links.source_pk = with_leads.driver_id and driver_links.source_table = 'drivers'
),
compared as (
  select with_drivers.*, settings.name_threshold, settings.window_before, settings.window_after,
         canon.norm_phone(with_drivers.park_phone, settings.country_code) as lead_phone_norm,
         canon.norm_plate(with_drivers.asset_plate_number) as lead_plate_norm,
         canon.name_similarity(canon.name_tokens(with_drivers.lead_name), with_drivers.driver_name_tokens) as name_similarity
  from with_drivers
  cross join settings
)
select compared.lead_id,
       row_number() over (partition by compared.lead_id order by compared.candidate_rank)::integer as candidate_rank,
       compared.driver_id,
       compared.person_key,
       compared.score,
       compared.evidence,
       compared.match_rule,
       compared.queue_reason,
       compared.lead_name,
       compared.driver_name,
       compared.asset_plate_number as lead_plate,
       compared.driver_plate,
       ops.mask_phone(compared.park_phone) as lead_phone_masked,
       ops.mask_phone(compared.driver_phone) as driver_phone_masked,
       compared.lead_created_at::date as lead_date,
       compared.hire_date,
       compared.park_name as lead_park,
       compared.driver_park_id as driver_park,
       compared.lead_phone_norm = compared.driver_phone_norm as phone_agrees,
       compared.lead_plate_norm = compared.driver_plate_norm as plate_agrees,
       round(compared.name_similarity, 2) as name_similarity,
       compared.name_similarity >= compared.name_threshold as name_agrees,
       compared.lead_created_at::date - compared.hire_date as days_after_hire,
       compared.hire_date - compared.lead_created_at::date
         between compared.window_before and compared.window_after as hire_date_agrees,
       compared.run_id,
       compared.evaluated_at
from compared;
comment on view ops.v_identity_review_queue is 'One row per unresolved lead (no link) and candidate driver the last run that evaluated it stored, rejected pairs left out, ranked (1 = best), with the names, plates, masked phones, dates and parks a reviewer compares. Personal data: not granted to idgap_reader; read through ops.review_queue_page.';
comment on column ops.v_identity_review_queue.lead_id is 'The lead (lead_id).';
comment on column ops.v_identity_review_queue.candidate_rank is '1 = the best candidate of the lead still open (rejected ones left out, ranks closed up).';
comment on column ops.v_identity_review_queue.driver_id is 'The candidate driver.';
comment on column ops.v_identity_review_queue.person_key is 'The person the driver is linked to now; null while it has none (an accept creates it).';
comment on column ops.v_identity_review_queue.score is 'The candidate''s score (0-100, the scale of canon.identity_links.match_score).';
comment on column ops.v_identity_review_queue.evidence is 'The candidate''s evidence as the run stored it (per compared field: level and weight).';
comment on column ops.v_identity_review_queue.match_rule is 'The rule that proposed the candidate.';
comment on column ops.v_identity_review_queue.queue_reason is 'WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES or REVIEW_BAND.';
comment on column ops.v_identity_review_queue.lead_name is 'The lead''s first, middle and last names.';
comment on column ops.v_identity_review_queue.driver_name is 'The driver''s name (canon.driver_name).';
comment on column ops.v_identity_review_queue.lead_plate is 'The lead''s plate as typed.';
comment on column ops.v_identity_review_queue.driver_plate is 'The driver''s plate (car_number) as typed.';
comment on column ops.v_identity_review_queue.lead_phone_masked is 'The lead''s phone, all digits but the last 3 masked (ops.mask_phone).';
comment on column ops.v_identity_review_queue.driver_phone_masked is 'The driver''s phone, all digits but the last 3 masked.';
comment on column ops.v_identity_review_queue.lead_date is 'The lead''s creation date.';
comment on column ops.v_identity_review_queue.hire_date is 'The driver''s hire date.';
comment on column ops.v_identity_review_queue.lead_park is 'The lead''s park_name.';
comment on column ops.v_identity_review_queue.driver_park is 'The driver''s park_id.';
comment on column ops.v_identity_review_queue.phone_agrees is 'The normalised phones are equal; null when either is missing.';
comment on column ops.v_identity_review_queue.plate_agrees is 'The normalised plates are equal; null when either is missing.';
comment on column ops.v_identity_review_queue.name_similarity is 'Name token similarity (canon.name_similarity, 0-1) of the lead''s and the driver''s names.';
comment on column ops.v_identity_review_queue.name_agrees is 'The name similarity reaches name_similarity_threshold (the plate rules'' test).';
comment on column ops.v_identity_review_queue.hire_date_agrees is 'The hire date is inside the plate rules'' window around the lead date (plate_hire_window_days_before/after); null when either date is missing.';
comment on column ops.v_identity_review_queue.days_after_hire is 'lead_date - hire_date in days (negative: the lead came before the hire).';
comment on column ops.v_identity_review_queue.run_id is 'ops.job_runs.id of the run that stored the candidate.';
comment on column ops.v_identity_review_queue.evaluated_at is 'When that run evaluated the lead.';
