-- When the task's workflow was started; the worker's starter picks up tasks without one.
ALTER TABLE tasks.tasks ADD COLUMN workflow_started_at timestamptz;
CREATE INDEX tasks_not_started_idx ON tasks.tasks (id) WHERE workflow_started_at IS NULL;
