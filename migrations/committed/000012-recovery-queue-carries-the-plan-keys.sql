--! Previous: sha1:b7c9bc7b2ab525ab586e64474cce18ae2f6b2833
--! Hash: sha1:d6130c0ffd32e63f65c57ac8be2f16ac0a6f94c8
--! Message: the recovery queue carries the plan's normalised keys

/*
 * ops.plan_recovery normalises every due lead's phone and plate to find its
 * component; the batch (ops.batch_leads) normalised them a second time. The
 * queue now carries the plan's keys, so the batch reads them instead, and the
 * batch matches on the very keys its component was formed on. Null when the
 * lead has no such key (or the row was queued without keys: the batch then
 * normalises the lead's own values, as before).
 */
alter table ops.recovery_queue add column if not exists phone_norm text;
alter table ops.recovery_queue add column if not exists plate_norm text;
comment on column ops.recovery_queue.phone_norm is 'The lead''s phone normalised by the plan (canon.norm_phone with default_country_code), read by the batch instead of normalising again; null when none.';
comment on column ops.recovery_queue.plate_norm is 'The lead''s plate normalised by the plan (canon.norm_plate), read by the batch instead of normalising again; null when none.';
