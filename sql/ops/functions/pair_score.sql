/*
 * The Fellegi-Sunter comparison of a lead and a driver (docs/matching-rules.md,
 * section 6): per field the level reached and its weight log2(m/u) from
 * p_weights (ops.match_weights_json()), their sum with the prior's log-odds,
 * the match probability 1 / (1 + 2^-weight) and the score round(100 x
 * probability). The evidence of a near-key link and of a review candidate.
 *   phone      exact / one_edit (one digit substituted, or two adjacent swapped) / different / missing
 *   plate      exact / look_alike / one_edit (substitution or adjacent swap) / different / missing
 *   name       exact (similarity >= threshold) / one_edit (canon.name_similarity_near >= threshold) / different / missing
 *   hire_date  exact (inside the rule R3 window of the lead date) / different / missing
 *   park       exact (the target park) / different / missing (no target park)
 */
create or replace function ops.pair_score(
  p_weights jsonb, p_target_park text, p_threshold numeric, p_window_before integer, p_window_after integer,
  p_lead_phone text, p_lead_plate text, p_lead_tokens text[], p_lead_date date,
  p_driver_phone text, p_driver_plate text, p_driver_tokens text[], p_driver_hire_date date, p_driver_park text)
returns jsonb
language plpgsql
immutable
parallel safe
as $$
declare
  plate_edit text;
  levels text[];
  fields text[] := array['phone', 'plate', 'name', 'hire_date', 'park'];
  field_weights jsonb := '{}'::jsonb;
  w numeric;
  total numeric := coalesce((p_weights -> 'prior' ->> 'any')::numeric, 0);
  probability double precision;
begin
  plate_edit := canon.one_edit(p_lead_plate, p_driver_plate);
  levels := array[
    case when p_lead_phone is null or p_driver_phone is null then 'missing'
         when p_lead_phone = p_driver_phone then 'exact'
         when canon.one_edit(p_lead_phone, p_driver_phone) is not null then 'one_edit'
         else 'different' end,
    case when p_lead_plate is null or p_driver_plate is null then 'missing'
         when p_lead_plate = p_driver_plate then 'exact'
         when plate_edit = 'look_alike' then 'look_alike'
         when plate_edit is not null then 'one_edit'
         else 'different' end,
    case when coalesce(cardinality(p_lead_tokens), 0) = 0 or coalesce(cardinality(p_driver_tokens), 0) = 0 then 'missing'
         when canon.name_similarity(p_lead_tokens, p_driver_tokens) >= p_threshold then 'exact'
         when canon.name_similarity_near(p_lead_tokens, p_driver_tokens) >= p_threshold then 'one_edit'
         else 'different' end,
    case when p_lead_date is null or p_driver_hire_date is null then 'missing'
         when p_driver_hire_date between p_lead_date + p_window_before and p_lead_date + p_window_after then 'exact'
         else 'different' end,
    case when p_target_park is null or p_driver_park is null then 'missing'
         when p_driver_park = p_target_park then 'exact'
         else 'different' end];
  for i in 1 .. 5 loop
    w := coalesce((p_weights -> fields[i] ->> levels[i])::numeric, 0);
    total := total + w;
    field_weights := field_weights || jsonb_build_object(fields[i], jsonb_build_object('level', levels[i], 'weight', w));
  end loop;
  probability := 1.0 / (1.0 + power(2.0::double precision, least(-total, 1000)::double precision));
  return jsonb_build_object('score', round(100 * probability)::integer, 'weight', total,
                            'probability', round(probability::numeric, 6), 'prior_weight', coalesce((p_weights -> 'prior' ->> 'any')::numeric, 0),
                            'fields', field_weights);
end
$$;
comment on function ops.pair_score(jsonb, text, numeric, integer, integer, text, text, text[], date, text, text, text[], date, text) is 'The Fellegi-Sunter comparison of a lead and a driver: per field (phone, plate, name, hire_date, park) the level and its weight, the total weight with the prior, the match probability and score = round(100 x probability), as jsonb.';
