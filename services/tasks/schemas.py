"""Request and response models of the tasks API (identity, units, users, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["office_admin", "unit_staff", "unit_head", "leader", "data_entry", "ops"]
UnitKind = Literal["office", "department", "township", "village", "party_committee", "government", "enterprise", "other"]
UNIT_KIND_LABELS = {"office": "领导小组办公室", "department": "部门", "township": "乡镇", "village": "村(社区)",
                    "party_committee": "党委", "government": "政府", "enterprise": "企业", "other": "其他"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=256, description="密码")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Region(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class Unit(BaseModel):
    id: int
    name: str
    aliases: list[str]
    kind: str
    region_code: str
    confirmed: bool


class UnitCreate(Strict):
    name: str = Field(min_length=2, max_length=100, description="单位全称")
    aliases: list[str] = Field(default_factory=list, max_length=20, description="简称、曾用名")
    kind: UnitKind = "department"
    region_code: str = Field(pattern=r"^\d{12}$", description="所属区划代码(12位)")

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        cleaned = [a.strip() for a in v if a.strip()]
        if any(len(a) > 100 for a in cleaned):
            raise ValueError("简称不能超过100个字符")
        return cleaned


class ResolveRequest(Strict):
    region_code: str = Field(pattern=r"^\d{12}$")
    names: list[str] = Field(min_length=1, max_length=500)


class ResolvedName(BaseModel):
    written: str
    kind: Literal["unit", "group", "unknown"]
    unit_ids: list[int]


class User(BaseModel):
    id: int
    username: str
    full_name: str
    unit_id: int
    unit_name: str
    roles: list[str]
    disabled: bool
    created_at: datetime


class UserCreate(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="用户名(字母、数字、_.-)")
    full_name: str = Field(min_length=1, max_length=50, description="姓名")
    unit_id: int = Field(gt=0)
    roles: list[Role] = Field(min_length=1, max_length=6)
    password: str = Field(min_length=8, max_length=256, description="初始密码(至少8位)")


class UserUpdate(Strict):
    full_name: str | None = Field(default=None, min_length=1, max_length=50)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=6)
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    service: str
    user_id: int | None
    username: str | None
    unit_id: int | None
    action: str
    entity: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
