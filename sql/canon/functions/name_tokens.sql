/*
 * A PL/pgSQL loop, not a SQL function over unnest(): 4.0 us against 6.4 us a
 * call (PERFORMANCE-NOTES), and it runs once per driver and once per lead.
 */
create or replace function canon.name_tokens(raw text)
returns text[]
language plpgsql
immutable
parallel safe
as $$
declare
  normalised text := canon.norm_name(raw);
  token text;
  tokens text[] := '{}';
  n integer := 0;
  pos integer;
begin
  if normalised is null then
    return tokens;
  end if;
  /* Insertion into a sorted, duplicate-free array: names have a handful of tokens, and this
     avoids a sorting sub-query per call (about 20 % faster, measured at 50,000 names). */
  foreach token in array string_to_array(normalised, ' ') loop
    continue when token in ('DE', 'DEL', 'LA', 'LOS', 'LAS', 'EL', 'Y', 'E');
    pos := 1;
    while pos <= n and tokens[pos] < token loop
      pos := pos + 1;
    end loop;
    continue when pos <= n and tokens[pos] = token;
    tokens := tokens[1:pos - 1] || token || tokens[pos:n];
    n := n + 1;
  end loop;
  return tokens;
end
$$;
comment on function canon.name_tokens(text) is 'The distinct tokens of canon.norm_name(raw), sorted, without the particles DE DEL LA LOS LAS EL Y E: token order is ignored. Never throws; empty array for no name.';
