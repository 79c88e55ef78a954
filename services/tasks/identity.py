"""Creating and changing users, shared by the API and the `xianjie users` CLI.

Runs inside the caller's transaction and writes the audit row there; never commits.
"""

from __future__ import annotations

import psycopg

from services.common import audit
from services.common.auth import Principal, hash_password
from services.tasks import repository


class IdentityError(ValueError):
    """A request the registry refuses, with a message for the person who made it."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _public(user: dict) -> dict:
    return {k: user[k] for k in ("id", "username", "full_name", "unit_id", "roles", "disabled")}


def create_user(
    conn: psycopg.Connection,
    *,
    actor: Principal | None,
    username: str,
    full_name: str,
    unit_id: int,
    roles: list[str],
    password: str,
    request_id: str | None = None,
) -> dict:
    unit = repository.get_unit(conn, unit_id)
    if unit is None:
        raise IdentityError(f"单位 {unit_id} 不存在 (unit not found)", 404)
    if actor is not None and not actor.covers_region(unit["region_code"]):
        raise IdentityError("只能为本辖区的单位创建用户 (unit outside your jurisdiction)", 403)
    if repository.username_taken(conn, username):
        raise IdentityError(f"用户名 {username} 已存在 (username taken)", 409)
    user_id = repository.insert_user(conn, username, full_name, unit_id, sorted(set(roles)), hash_password(password))
    user = repository.get_user(conn, user_id)
    audit.record(
        conn, service="tasks", principal=actor, action="user.create", entity="user", entity_id=user_id,
        after=_public(user), request_id=request_id,
    )
    return user


def update_user(
    conn: psycopg.Connection, *, actor: Principal, user_id: int, changes: dict, request_id: str | None = None
) -> dict:
    user = repository.get_user(conn, user_id)
    if user is None or not actor.covers_region(user["region_code"]):
        raise IdentityError(f"用户 {user_id} 不存在 (user not found)", 404)
    if user_id == actor.user_id and (changes.get("disabled") or ("roles" in changes and "office_admin" not in changes["roles"])):
        raise IdentityError("不能停用自己或取消自己的管理员角色 (cannot lock yourself out)", 409)
    stored = dict(changes)
    if "password" in stored:
        stored["password_hash"] = hash_password(stored.pop("password"))
    if "roles" in stored:
        stored["roles"] = sorted(set(stored["roles"]))
    repository.update_user(conn, user_id, stored)
    after = repository.get_user(conn, user_id)
    audit.record(
        conn, service="tasks", principal=actor, action="user.update", entity="user", entity_id=user_id,
        before=_public(user) | ({"password": "***"} if "password" in changes else {}),
        after=_public(after) | ({"password": "changed"} if "password" in changes else {}),
        request_id=request_id,
    )
    return after
