"""The idempotency keys a workflow's Updates remember (the task and the case workflows).

A repeated key gets the first answer again instead of a second change; the same key
sent with another action is refused. Only the latest keys are kept, and they travel
through continue-as-new in the workflow's input. Pure and deterministic: workflow code.
"""

from __future__ import annotations


class RecentKeys:
    """The latest `kept` idempotency keys, each with the fingerprint of its action, oldest first."""

    def __init__(self, keys: dict[str, str] | None = None, kept: int = 1000) -> None:
        self.keys = dict(keys or {})
        self.kept = kept

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def repeated(self, key: str, fingerprint: str) -> bool:
        """True when `key` was applied before (to this very action): the validator lets it through
        to the handler, which answers again. Raises ValueError when it was used for another action."""
        seen = self.keys.get(key)
        if seen is None:
            return False
        if seen != fingerprint:
            raise ValueError("该幂等键已用于另一操作 (idempotency key already used for another action)")
        return True

    def add(self, key: str, fingerprint: str) -> None:
        self.keys[key] = fingerprint
        if len(self.keys) > self.kept:
            self.keys = dict(list(self.keys.items())[-self.kept:])
