/*
 * The tokens of a raw name: canon.norm_name, then the token rule of
 * canon.name_tokens_of_normalised (which the drivers index refresh calls on the
 * name_norm it already has, so a name is normalised once).
 */
create or replace function canon.name_tokens(raw text)
returns text[]
language sql
immutable
parallel safe
as $$
  select canon.name_tokens_of_normalised(canon.norm_name(raw))
$$;
comment on function canon.name_tokens(text) is 'The distinct tokens of canon.norm_name(raw), sorted, without the particles DE DEL LA LOS LAS EL Y E: token order is ignored. Never throws; empty array for no name.';
