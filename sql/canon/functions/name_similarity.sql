/*
 * (|A n B| / |A u B| + |A n B| / max(|A|,|B|)) / 2 over token sets, in exact
 * numeric so that 2/3 (a given name and a surname against a driver with two
 * surnames) compares as 0.666... >= 0.66 without float noise. A loop over the
 * short arrays: 2.1 us against 41 us for sub-selects (PERFORMANCE-NOTES).
 */
create or replace function canon.name_similarity(a text[], b text[])
returns numeric
language plpgsql
immutable
parallel safe
as $$
declare
  common integer := 0;
  size_a integer := 0;
  size_b integer := 0;
begin
  if coalesce(cardinality(a), 0) = 0 or coalesce(cardinality(b), 0) = 0 then
    return 0;
  end if;
  /* Token sets: a repeated token counts once, whatever the caller passes. */
  for i in 1 .. cardinality(a) loop
    continue when i > 1 and a[i] = any (a[1:i - 1]);
    size_a := size_a + 1;
    if a[i] = any (b) then
      common := common + 1;
    end if;
  end loop;
  for i in 1 .. cardinality(b) loop
    continue when i > 1 and b[i] = any (b[1:i - 1]);
    size_b := size_b + 1;
  end loop;
  return (common::numeric / (size_a + size_b - common) + common::numeric / greatest(size_a, size_b)) / 2;
end
$$;
comment on function canon.name_similarity(text[], text[]) is 'Similarity of two token sets (from canon.name_tokens): the mean of Jaccard and overlap-over-larger-set, 0 to 1, exact numeric. 0 when either is empty.';
