-- A task signed off (销号) closes the steps still open in it, so they leave the inboxes.
ALTER TABLE tasks.steps DROP CONSTRAINT steps_status_check;
ALTER TABLE tasks.steps ADD CONSTRAINT steps_status_check
    CHECK (status IN ('open', 'submitted', 'approved', 'returned', 'closed'));

-- Jurisdiction filters are prefix matches on region codes.
CREATE INDEX tasks_region_idx ON tasks.tasks (region_code text_pattern_ops);
CREATE INDEX escalations_pending_idx ON tasks.escalations (region_code text_pattern_ops, at) WHERE instruction IS NULL;
