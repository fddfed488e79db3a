/*
 * The Fellegi-Sunter weights of ops.match_weights as one jsonb
 * ({field: {level: weight}}), read once per batch and passed to
 * ops.pair_score for every pair it scores.
 */
create or replace function ops.match_weights_json()
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_object_agg(per_field.field, per_field.levels), '{}'::jsonb)
  from (select weights.field, jsonb_object_agg(weights.level, weights.weight) as levels
        from ops.match_weights as weights
        group by weights.field) as per_field
$$;
comment on function ops.match_weights_json() is 'The weights of ops.match_weights as jsonb {field: {level: weight}}, for ops.pair_score.';
