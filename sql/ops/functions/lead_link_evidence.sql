/*
 * The evidence of a lead's link (the keys compared, the candidates,
 * their similarity): the rule that decided, the driver it went through, the
 * lead's keys and every rule's verdict with its candidates, built as json text
 * by ops.batch_decide and parsed into jsonb here, once. One expression, stable
 * like jsonb_build_object (declared immutable it would not be inlined), so the
 * planner inlines it into ops.batch_lead_links.
 */
create or replace function ops.lead_link_evidence(p_match_rule text, p_driver_id text, p_lead_keys json, p_rules json, p_target_park text)
returns jsonb
language sql
stable
parallel safe
as $$
  select jsonb_build_object('rule', p_match_rule, 'driver_id', p_driver_id, 'lead', p_lead_keys, 'rules', p_rules,
                            'target_park_id', p_target_park)
$$;
comment on function ops.lead_link_evidence(text, text, json, json, text) is 'The evidence jsonb of a lead''s link from the recovery batch''s decision (rule, driver, lead keys, per-rule verdicts and candidates, target park).';
