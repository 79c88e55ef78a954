-- The inbox reads a unit's opened steps in (due_at, id) order and counts them. With the id in
-- the key the page needs no sort, and with opened_at beside it the count is an index-only
-- scan (the visibility map permitting) instead of a heap visit per step. Same leading
-- columns as the index it replaces, so every other use of that one is served as before.
CREATE INDEX steps_unit_due_id_idx ON tasks.steps (unit_id, due_at, id) INCLUDE (opened_at);
DROP INDEX tasks.steps_unit_due_idx;
