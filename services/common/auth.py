"""Who is calling, and what they may do: passwords, tokens and where authority is checked
(the `require` dependency every route uses; the inbox reads its caller's row in its own
statement and admits them with `caller_id` and `admit`).

Tokens are signed JWTs accepted by all three APIs. The user row is read on every
request, so a disabled user is refused at once even with a token still valid.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import jwt
import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.config import get_settings
from services.common.units import jurisdiction_prefix

ROLES = ("office_admin", "unit_staff", "unit_head", "leader", "data_entry", "ops")
ROLE_LABELS = {
    "office_admin": "领导小组办公室管理员",
    "unit_staff": "单位经办人",
    "unit_head": "单位负责人",
    "leader": "县领导/分管领导",
    "data_entry": "数据录入员",
    "ops": "运维人员",
}
_bearer = HTTPBearer(auto_error=False)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    s = get_settings()
    return PasswordHasher(time_cost=s.argon2_time_cost, memory_cost=s.argon2_memory_kib)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A well-formed hash to verify against when the user does not exist, so a wrong
    username takes as long as a wrong password."""
    return _hasher().hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user of a unit with roles, bounded to a jurisdiction."""

    user_id: int
    username: str
    unit_id: int
    unit_name: str
    region_code: str
    region_level: str
    roles: tuple[str, ...]

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def covers_region(self, region_code: str) -> bool:
        """True when `region_code` lies inside this caller's jurisdiction."""
        return region_code.startswith(jurisdiction_prefix(self.region_code, self.region_level))


def issue_token(user_id: int, username: str, now: float | None = None, ttl_s: int | None = None) -> tuple[str, int]:
    s = get_settings()
    now = time.time() if now is None else now
    ttl = s.token_ttl_s if ttl_s is None else ttl_s
    token = jwt.encode(
        {"sub": str(user_id), "username": username, "iat": int(now), "exp": int(now) + ttl}, s.jwt_secret, "HS256"
    )
    return token, ttl


def authenticate(conn: psycopg.Connection, username: str, password: str) -> dict | None:
    """The user row when the password is right and the user is enabled."""
    row = conn.execute(
        "SELECT id, username, password_hash, disabled FROM common.users WHERE username = %s", (username,)
    ).fetchone()
    if row is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(row["password_hash"], password) or row["disabled"]:
        return None
    return row


def lockout_seconds(failures: list[datetime], now: datetime, max_failures: int, window_s: int) -> int:
    """How long a username (from one client address) must wait before trying again: 0 while
    fewer than `max_failures` failures fall in the last `window_s`, else until the oldest
    of the last `max_failures` leaves the window."""
    recent = sorted(t for t in failures if (now - t).total_seconds() < window_s)
    if len(recent) < max_failures:
        return 0
    return max(1, math.ceil(window_s - (now - recent[-max_failures]).total_seconds()))


def recent_failures(conn: psycopg.Connection, username: str, client: str, window_s: int) -> list[datetime]:
    return [r["at"] for r in conn.execute(
        """SELECT at FROM common.login_failures
           WHERE username = %s AND client = %s AND at > now() - make_interval(secs => %s)""",
        (username, client, window_s))]


def record_failure(conn: psycopg.Connection, username: str, client: str) -> None:
    conn.execute("INSERT INTO common.login_failures (username, client) VALUES (%s, %s)", (username, client))


def clear_failures(conn: psycopg.Connection, username: str) -> None:
    conn.execute("DELETE FROM common.login_failures WHERE username = %s", (username,))


# The caller's row. `inbox_repository.inbox_of_caller` embeds it as a CTE: keep it to one
# parameter (the user id) and no column named `body`.
PRINCIPAL_SQL = """SELECT u.id, u.username, u.roles, u.disabled, n.id AS unit_id, n.name AS unit_name,
                         r.code AS region_code, r.level AS region_level
                  FROM common.users u JOIN common.units n ON n.id = u.unit_id
                  JOIN common.regions r ON r.code = n.region_code WHERE u.id = %s"""


def _principal(row: dict | None) -> Principal | None:
    if row is None or row["disabled"]:
        return None
    return Principal(
        user_id=row["id"],
        username=row["username"],
        unit_id=row["unit_id"],
        unit_name=row["unit_name"],
        region_code=row["region_code"],
        region_level=row["region_level"],
        roles=tuple(row["roles"]),
    )


def load_principal(conn: psycopg.Connection, user_id: int) -> Principal | None:
    return _principal(conn.execute(PRINCIPAL_SQL, (user_id,)).fetchone())


def admit(row: dict | None) -> Principal:
    """The caller a `PRINCIPAL_SQL` row describes, or 401 when there is none or they are disabled."""
    principal = _principal(row)
    if principal is None:
        raise _unauthorized("用户不存在或已停用 (user unknown or disabled)")
    return principal


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": "Bearer"})


@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> dict:
    """The claims of a token whose signature is good. The signature of a given token never
    changes, so it is checked once per token (a page view sends the same one each time);
    the expiry, which does change, is checked on every request by `token_claims`."""
    return jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"], "verify_exp": False})


def token_claims(token: str) -> dict:
    """The claims of a bearer token, or 401 naming why it is refused."""
    try:
        claims = _verified_claims(token, get_settings().jwt_secret)
    except jwt.InvalidTokenError:
        raise _unauthorized("令牌无效 (invalid token)") from None
    if not isinstance(claims["exp"], int | float) or not math.isfinite(claims["exp"]):
        raise _unauthorized("令牌无效 (invalid token)")
    if claims["exp"] <= time.time():
        raise _unauthorized("令牌已过期,请重新登录 (token expired)")
    return claims


def _caller_id(credentials: HTTPAuthorizationCredentials | None) -> int:
    if credentials is None:
        raise _unauthorized("未登录或缺少令牌 (missing bearer token)")
    return int(token_claims(credentials.credentials)["sub"])


async def caller_id(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> int:
    """The user id of a good bearer token (401 otherwise), for a route that reads its caller's
    row in its own statement (the inbox) and then admits them with `admit`."""
    return _caller_id(credentials)


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    user_id = _caller_id(credentials)
    async with request.app.state.read_pool.connection() as conn:
        return admit(await (await conn.execute(PRINCIPAL_SQL, (user_id,))).fetchone())


def require(*roles: str):
    """A dependency that admits a caller holding any of `roles` (any role when none given)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        # async: no I/O here, and a sync dependency would cost a trip through the thread pool
        if roles and not principal.has_role(*roles):
            wanted = "、".join(ROLE_LABELS[r] for r in roles)
            raise HTTPException(status_code=403, detail=f"无权操作:需要角色 {wanted} (forbidden)")
        return principal

    return dependency


def require_region(principal: Principal, region_code: str) -> None:
    """Refuse data outside the caller's jurisdiction."""
    if not principal.covers_region(region_code):
        raise HTTPException(status_code=403, detail="无权查看辖区以外的数据 (outside your jurisdiction)")
