/*
 * Whether a lead's phone or plate lies in a crowded region of the drivers'
 * keys: it shares a one-deletion variant with more than p_limit other keys of
 * canon.near_key_variants (about 240 for a phone in a block of consecutive
 * numbers). The plan gives such a key no near pair (ops.plan_near_pairs counts
 * the same way, on its own join, with p_limit = 5 x near_max_pairs), so the
 * targeted re-open does not re-open a lead for it. A handful of index probes: one per variant of the key.
 */
create or replace function ops.near_key_crowded(p_key text, p_key_kind text, p_limit integer)
returns boolean
language sql
stable
parallel safe
as $$
  select count(distinct near.key) > p_limit
  from unnest(canon.key_deletions(p_key)) as deletion(variant)
  join canon.near_key_variants as near on near.key_kind = p_key_kind and near.variant = deletion.variant
  where near.key <> p_key
$$;
comment on function ops.near_key_crowded(text, text, integer) is 'True when p_key shares a one-deletion variant with more than p_limit other keys of canon.near_key_variants (of kind phone or plate): a crowded key, which gets no near-key pair (ops.plan_near_pairs) and re-opens no lead.';
