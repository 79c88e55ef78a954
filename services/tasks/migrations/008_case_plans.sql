-- The 一户一策 plan of an alert case: each measure is a task (with the measure calendar:
-- one 落实情况 step by the measure's due date) so it lands in the department's inbox
-- with the step lifecycle of every task. Like a ledger, the plan is a document of its
-- own kind, which the policy review routes never list.
ALTER TABLE tasks.policy_documents DROP CONSTRAINT policy_documents_kind_check;
ALTER TABLE tasks.policy_documents ADD CONSTRAINT policy_documents_kind_check
    CHECK (kind IN ('policy', 'ledger', 'case_plan'));
