/*
 * Time-ordered uuids for person keys: inserts land at the right edge of the
 * primary key index instead of all over it (driver links 10 s -> 6 s at 1M,
 * PERFORMANCE-NOTES). PostgreSQL 18 has uuidv7(); 15-17 do not, so build one
 * from pgcrypto's random uuid with the millisecond clock in the first 48 bits.
 */
create or replace function canon.uuid_v7()
returns uuid
language sql
volatile
parallel safe
as $$
  select encode(
           set_bit(
             set_bit(
               overlay(uuid_send(pg_catalog.gen_random_uuid())
                       placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6),
               52, 1),
             53, 1),
           'hex')::uuid
$$;
comment on function canon.uuid_v7() is 'A new time-ordered (version 7) uuid, used for person keys.';
