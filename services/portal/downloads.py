"""Files the APIs produce (Excel exports, templates, error files, attachments, originals,
a case's printable 公示),
fetched with the user's token: a browser link cannot carry the bearer token itself.
Only the download routes below pass; nothing else of the APIs is reachable this way."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.backend import ApiError
from services.portal.views import backend, current_user

router = APIRouter()

# The lists among the downloads: passed on in their Excel form only (`?format=xlsx`).
LISTS = {"tasks": ("inbox", "escalations", "progress", "reviews", "notifications", "users", "units",
                   "audit"),
         "alerts": ("cases",)}
DOWNLOADS = {
    "tasks": re.compile(rf"^api/({'|'.join(LISTS['tasks'])})$|^api/attachments/\d+$|^api/policies/\d+/original$"
                        r"|^api/ledgers/\d+/export$"),
    "alerts": re.compile(r"^api/cases$|^api/households/(template|export)\.xlsx$|^api/alerts/export\.xlsx$"
                         r"|^api/import-jobs/[\w-]+/errors\.xlsx$|^api/cases/\d+/notice$"),
    "assessment": re.compile(r"^api/bulletins/\d+/(xlsx|html)$"),
}
PASSED_HEADERS = ("content-type", "content-disposition")


@router.get("/files/{service}/{path:path}")
def download(request: Request, service: str, path: str):
    user = current_user(request)
    pattern = DOWNLOADS.get(service)
    if pattern is None or not pattern.match(path):
        raise ApiError(404, "没有这个下载")
    params = dict(request.query_params)
    if path.removeprefix("api/") in LISTS.get(service, ()):
        params["format"] = "xlsx"
    clean = {k: v for k, v in params.items() if v != ""}
    response = backend(request).request(service, "GET", f"/{path}", user.token, params=clean)
    headers = {k: v for k, v in response.headers.items() if k.lower() in PASSED_HEADERS}
    return Response(response.content, status_code=200, headers=headers)
