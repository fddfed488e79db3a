/*
 * One row per linked lead whose matching, in the last recovery that repaired
 * it, named another person than the one it is linked to (docs/matching-rules.md, section 4: a finding,
 * not a failure of the lead). The link stays; an operator decides, e.g. by
 * comparing the two persons' drivers.
 */
create or replace view ops.v_identity_link_findings as
with findings as (
  select findings.lead_id, findings.linked_person_key, findings.named_person, findings.match_rule, findings.run_id, findings.found_at
  from ops.identity_link_findings as findings
),
other_person as (
  select findings.*,
         case when findings.named_person like 'driver:%' then substr(findings.named_person, 8) end as other_driver_id,
         case when findings.named_person not like 'driver:%' then findings.named_person::uuid end as other_person_key
  from findings
)
select other_person.lead_id,
       other_person.linked_person_key,
       other_person.other_person_key,
       other_person.other_driver_id,
       other_person.match_rule,
       other_person.run_id,
       other_person.found_at
from other_person;
comment on view ops.v_identity_link_findings is 'One row per linked lead whose matching named another person than its own in the last recovery that repaired it (the link is kept; docs/matching-rules.md, section 4).';
comment on column ops.v_identity_link_findings.lead_id is 'The lead.';
comment on column ops.v_identity_link_findings.linked_person_key is 'The person the lead is linked to.';
comment on column ops.v_identity_link_findings.other_person_key is 'The other person matching named (null when it named an unlinked driver).';
comment on column ops.v_identity_link_findings.other_driver_id is 'The unlinked driver matching named, standing for a person not created (null when it named an existing person).';
comment on column ops.v_identity_link_findings.match_rule is 'The rule that named it (ops.match_rules).';
comment on column ops.v_identity_link_findings.run_id is 'The run that found it.';
comment on column ops.v_identity_link_findings.found_at is 'When it was found.';
