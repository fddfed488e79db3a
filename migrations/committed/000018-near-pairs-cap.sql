--! Previous: sha1:2cf9102a71052e0b5ce2afde7a7870cb2840196d
--! Hash: sha1:a16f33222b63147d8ee02f7e31e95bc7b1fbdef1
--! Message: near pairs cap

/*
 * Near keys (issue 16) and the plan's components (issue 15). A key one edit
 * from many drivers (a block of consecutive phone numbers, a plate series) is
 * no evidence, and its pairs glued the plan's components together: 100,000
 * leads with consecutive phones and one name made 1.1M near pairs and one
 * component of 99,999 leads, a single batch that ran for minutes. The plan now
 * drops the near pairs of a lead with more than near_max_pairs near-key
 * drivers, and does not check the edits of a key sharing a one-deletion
 * variant with more than 5 x near_max_pairs keys (ops.plan_near_pairs).
 */
insert into ops.settings (key, value, value_type, description) values
  ('near_max_pairs', '10', 'integer', 'Near keys (R4_PLATE_NEAR, R5_PHONE_NEAR): a lead one edit from more than this many drivers (names agreeing), or whose key shares a one-deletion variant with more than 5 x this many keys of the index, gets no near-key pair by it: so many neighbours make one edit no evidence, and their pairs would glue the plan''s components into one giant batch.')
on conflict (key) do nothing;

/* ops.job_waits takes the status alone now: a pending row already due waits for new evidence too (sql/ops/functions/job_waits.sql). */
drop function if exists ops.job_waits(text, timestamptz);
