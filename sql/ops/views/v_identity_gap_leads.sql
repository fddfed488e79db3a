/*
 * The gap, lead by lead, with the lead's keys: the one definition of a lead's
 * gap reason and risk. A lead is resolved when it is linked to a person whose
 * cabinet_lead origin points to a lead linked to that same person; a second
 * lead of a resolved person is a repeat lead, not a gap. The rule is
 * ops.gap_reason (shared with ops.lead_gap_state, the recovery's per-lead read);
 * this view gathers its facts for every lead at once with hash joins.
 * ops.v_identity_gap_analysis is this view without the keys, for every other
 * reader; the recovery's plan (ops.plan_recovery_leads) reads the keys with
 * the gap in one scan of the leads (at 1M leads on the embedded server 3.0-3.2 s,
 * where the gap and then a join back to the leads for their keys took 4.4-4.5 s).
 * The keys carry personal data (phone, plate, name): like the review queue,
 * this view is not granted to idgap_reader nor idgap_api (ops.apply_grants).
 * Columns a query does not read are never computed: trips_14d (a scalar
 * sub-select) and the keys cost nothing to the gap's other readers.
 */
create or replace view ops.v_identity_gap_leads as
with leads as (
  select coalesce(cabinet_leads.external_id, cabinet_leads.id::text) as lead_id,
         cabinet_leads.lead_created_at::date as lead_date,
         /* The lead's keys, normalised as the drivers index's (the country code read once, an init plan). */
         canon.norm_phone(cabinet_leads.park_phone,
                          (select settings.value from ops.settings as settings where settings.key = 'default_country_code')) as phone_norm,
         canon.norm_plate(cabinet_leads.asset_plate_number) as plate_norm,
         concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name) as lead_name
  from public.module_ct_cabinet_leads as cabinet_leads
),
lead_links as not materialized (
  select links.source_pk as lead_id, links.person_key
  from canon.identity_links as links
  where links.source_table = 'module_ct_cabinet_leads'
),
lead_origins as (
  select origins.person_key, origins.origin_tag, origins.origin_source_id
  from canon.identity_origin as origins
  where origins.origin_tag = 'cabinet_lead'
),
linked as (
  select leads.lead_id,
         leads.lead_date,
         leads.phone_norm,
         leads.plate_norm,
         leads.lead_name,
         lead_links.person_key,
         lead_origins.origin_tag,
         lead_origins.origin_source_id,
         origin_links.person_key as origin_lead_person_key
  from leads
  left join lead_links on lead_links.lead_id = leads.lead_id
  left join lead_origins on lead_origins.person_key = lead_links.person_key
  left join lead_links as origin_links on origin_links.lead_id = lead_origins.origin_source_id
),
classified as (
  select linked.*,
         linked.person_key is not null as has_identity,
         linked.origin_source_id is not null as has_origin,
         ops.gap_reason(linked.person_key, linked.origin_tag, linked.origin_lead_person_key) as gap_reason,
         (now() at time zone 'utc')::date - linked.lead_date as gap_age_days
  from linked
),
risked as (
  select classified.*,
         case
           when (classified.gap_reason = 'no_identity' and classified.gap_age_days >= 7)
                or classified.gap_reason = 'inconsistent_origin' then 'high'
           when (classified.gap_reason in ('no_identity', 'no_origin') and classified.gap_age_days >= 2)
                or (classified.gap_reason <> 'resolved' and classified.lead_date is null) then 'medium'
           else 'low'
         end as risk_level
  from classified
)
select risked.lead_id,
       risked.lead_date,
       risked.person_key,
       risked.has_identity,
       risked.has_origin,
       (risked.gap_reason = 'resolved' and risked.origin_source_id <> risked.lead_id) as is_repeat_lead,
       risked.gap_reason,
       risked.gap_age_days,
       risked.risk_level,
       case risked.risk_level when 'high' then 3 when 'medium' then 2 else 1 end as risk_rank,
       (select coalesce(sum(activity.count_orders_completed), 0)
        from canon.identity_links as driver_links
        join public.summary_daily as activity on activity.driver_id = driver_links.source_pk
        where risked.person_key is not null
          and driver_links.person_key = risked.person_key
          and driver_links.source_table = 'drivers'
          and canon.parse_date_file(activity.date_file) between risked.lead_date and risked.lead_date + 14
       )::bigint as trips_14d,
       risked.phone_norm,
       risked.plate_norm,
       risked.lead_name
from risked;
comment on view ops.v_identity_gap_leads is 'One row per lead, with its normalised keys (personal data: not granted to the reader and API roles): its person, whether it has an identity and a correct origin, the gap reason, age and risk, and the trips of its person''s drivers in the 14 days after the lead.';
comment on column ops.v_identity_gap_leads.lead_id is 'coalesce(external_id, id::text).';
comment on column ops.v_identity_gap_leads.lead_date is 'lead_created_at::date; null when unknown.';
comment on column ops.v_identity_gap_leads.person_key is 'The person the lead is linked to, if any.';
comment on column ops.v_identity_gap_leads.has_identity is 'The lead is linked to a person.';
comment on column ops.v_identity_gap_leads.has_origin is 'The lead''s person has a cabinet_lead origin.';
comment on column ops.v_identity_gap_leads.is_repeat_lead is 'Resolved, and the person''s origin is another (earlier) lead.';
comment on column ops.v_identity_gap_leads.gap_reason is 'no_identity, no_origin, inconsistent_origin (origin lead not linked to the person) or resolved.';
comment on column ops.v_identity_gap_leads.gap_age_days is 'Days from lead_date to today (UTC); null when the date is unknown.';
comment on column ops.v_identity_gap_leads.risk_level is 'high (no_identity aged 7+ days, or inconsistent_origin), medium (no_identity or no_origin aged 2+ days, or unresolved with an unknown lead date) or low.';
comment on column ops.v_identity_gap_leads.risk_rank is '3 high, 2 medium, 1 low: sort on this, never on the text.';
comment on column ops.v_identity_gap_leads.trips_14d is 'Completed orders of the person''s linked drivers from lead_date to lead_date + 14.';
comment on column ops.v_identity_gap_leads.phone_norm is 'canon.norm_phone(park_phone, default_country_code): the key of rules R1 and R5.';
comment on column ops.v_identity_gap_leads.plate_norm is 'canon.norm_plate(asset_plate_number): the key of rules R3, R3B, R4 and R6.';
comment on column ops.v_identity_gap_leads.lead_name is 'First, middle and last name, space-separated (the name rules compare its tokens).';
