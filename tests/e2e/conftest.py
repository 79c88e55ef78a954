"""Browser tests: Playwright for Python drives Debian's Chromium (never a browser of
Playwright's own) against the system as `make dev` runs it — the three APIs, the
worker (with the task and case starters), the outbox relay, both consumers and the portal as processes, on a
real PostgreSQL database, a tansu broker and Temporal's time-skipping server (so a
step can go overdue in seconds: `stack.skip(days)`).

Without Chromium, or without the playwright package, every test here is skipped with
the reason printed in pytest's summary (`-ra`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("XIANJIE_CHROMIUM", "/usr/bin/chromium"))
# Headless and quiet: no sandbox (tests run as root in CI), no calls home, a fresh profile per launch.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("XIANJIE_E2E_SCREENSHOTS", HERE / "screenshots"))
INSTALL_HINT = ("install Debian's Chromium (as root: apt-get install -y --no-install-recommends chromium "
                "fonts-wqy-microhei; `make test` does it when it can) or point XIANJIE_CHROMIUM at a Chromium binary")
PROCESSES = ("tasks-api", "alerts-api", "assessment-api", "worker", "relay", "alerts-consumer", "assessment-consumer")
PORT_SETTINGS = {"tasks-api": "TASKS_PORT", "alerts-api": "ALERTS_PORT", "assessment-api": "ASSESSMENT_PORT",
                 "worker": "WORKER_METRICS_PORT", "relay": "RELAY_METRICS_PORT",
                 "alerts-consumer": "ALERTS_CONSUMER_METRICS_PORT",
                 "assessment-consumer": "ASSESSMENT_CONSUMER_METRICS_PORT", "portal": "PORTAL_PORT",
                 "sdk-metrics": "TEMPORAL_SDK_METRICS_PORT"}
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def playwright_browser():
    """Debian's Chromium under Playwright, or a skip naming how to get it."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package: .venv/bin/pip install -c constraints.txt -e '.[test]'")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class TimeSkippingTemporal:
    """Temporal's time-skipping test server, driven from its own event loop thread: the
    browser tests are synchronous, and time moves at the real pace until `skip`."""

    def __init__(self) -> None:
        from temporalio.testing import WorkflowEnvironment

        from services.common.devstack import venv_binary

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.env = self._run(WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server")))
        self.address = self.env.client.service_client.config.target_host
        self._run(self._register_search_attributes())

    async def _register_search_attributes(self) -> None:
        """What `xianjie dev`'s server is started with: the test server knows no custom attribute."""
        from temporalio.api.enums.v1 import IndexedValueType
        from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

        from services.common.devstack.servers import SEARCH_ATTRIBUTES

        kinds = {kind: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}") for kind in SEARCH_ATTRIBUTES.values()}
        await self.env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace="default", search_attributes={key: kinds[kind] for key, kind in SEARCH_ATTRIBUTES.items()}))

    def _run(self, coroutine, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def skip(self, days: float) -> None:
        from datetime import timedelta

        self._run(self.env.sleep(timedelta(days=days)), timeout=300)

    def stop(self) -> None:
        self._run(self.env.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Processes:
    """The processes of `make dev`, started with `xianjie serve NAME` (and the portal), each
    logging to a file of its own; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.running = env, log_dir, {}

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.running[name] = (subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True), log)

    def wait_healthy(self, name: str, url: str, timeout: float = 90) -> None:
        process, _ = self.running[name]
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"{name} exited ({process.returncode}):\n{self.tail(name)}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready at {url} after {timeout:.0f} s:\n{self.tail(name)}")
            time.sleep(0.2)

    def tail(self, name: str, lines: int = 30) -> str:
        return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for process, _ in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture(scope="package")
def stack(playwright_browser, pg_server, database_names, servers_dir, tmp_path_factory):
    """The whole system on free ports, in a database of its own (demo units and users, no
    policies); the processes' logs stay in pytest's temporary folder (e2e-logs*); `.url` is the portal's address, `.dsn` the database, `.skip(days)` moves
    Temporal's clock. One for the package (stopped after its last test): the journeys build on one another."""
    from services.common.devstack import EmbeddedBroker, create_database, drop_database, free_port, venv_binary

    name = database_names.next()
    admin = pg_server.dsn_for("postgres")
    create_database(admin, name, template=database_names.template)
    dsn = pg_server.dsn_for(name)
    broker = EmbeddedBroker(servers_dir / "e2e-broker.log", free_port())
    broker.start()
    temporal = TimeSkippingTemporal()
    ports = {process: free_port() for process in PORT_SETTINGS}
    env = {**os.environ, "DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "TEMPORAL_ADDRESS": temporal.address, "XIANJIE_VAR_DIR": str(servers_dir / "e2e-var")}
    env.update({f"XIANJIE_{setting}": str(ports[process]) for process, setting in PORT_SETTINGS.items()})
    for api in ("tasks", "alerts", "assessment"):
        env[f"XIANJIE_PORTAL_{api.upper()}_URL"] = f"http://127.0.0.1:{ports[api + '-api']}"
    log_dir = tmp_path_factory.mktemp("e2e-logs")  # kept after the run (pytest keeps the last three)
    processes = Processes(env, log_dir)
    try:
        for process in PROCESSES:
            processes.start(process, [venv_binary("xianjie"), "serve", process])
        processes.start("portal", [sys.executable, "-m", "services.portal"])
        for process in PROCESSES:
            path = "readyz" if process.endswith("-api") else "healthz"
            processes.wait_healthy(process, f"http://127.0.0.1:{ports[process]}/{path}")
        processes.wait_healthy("portal", f"http://127.0.0.1:{ports['portal']}/healthz")
        yield SimpleNamespace(url=f"http://127.0.0.1:{ports['portal']}", dsn=dsn, skip=temporal.skip,
                              processes=processes)
    finally:
        processes.stop()
        temporal.stop()
        broker.stop()
        drop_database(admin, name)


class Portal:
    """One browser context (a person at a desktop or on a phone) on the portal; every page
    and htmx answer it loads is recorded, so a test can check none was raw JSON."""

    def __init__(self, browser, url: str, viewport: dict, kind: str) -> None:
        self.kind = kind
        self.context = browser.new_context(base_url=url, viewport=viewport, is_mobile=kind == "phone",
                                           has_touch=kind == "phone", locale="zh-CN", timezone_id="Asia/Shanghai",
                                           accept_downloads=True)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.loaded: list[tuple[str, int, str]] = []
        self.page.on("response", self._loaded)

    def _loaded(self, response) -> None:
        if response.request.resource_type in ("document", "xhr", "fetch"):
            self.loaded.append((response.url, response.status, response.headers.get("content-type", "")))

    def login(self, username: str, password: str = "xianjie-demo") -> None:
        page = self.page
        self.context.clear_cookies()
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", password)
        self.follow("button:has-text('登录')")
        page.wait_for_selector("header button:has-text('退出')")
        self.check()

    def follow(self, target) -> None:
        """Click a link or a form's button (a selector or a locator) and wait until the page it
        leads to has loaded, so what is read next is that page."""
        locator = self.page.locator(target) if isinstance(target, str) else target
        with self.page.expect_navigation():
            locator.first.click()

    def fill(self, values: dict[str, str]) -> None:
        """Fill a form's fields by id, in order: a <select> gets the option chosen, any other field the text."""
        for field, value in values.items():
            locator = self.page.locator(f"#{field}")
            if locator.evaluate("e => e.tagName") == "SELECT":
                locator.select_option(value)
            else:
                locator.fill(value)

    def check(self) -> None:
        """What the person sees is a page in Chinese: no JSON, no stack trace, nothing wider than the screen."""
        text = self.page.inner_text("body")
        assert not text.lstrip().startswith(("{", "[")), text[:200]
        for raw in ("Traceback", '"detail"', "Internal Server Error", "Not Found", "Method Not Allowed"):
            assert raw not in text, f"{raw!r} shown on {self.page.url}"
        shown_json = [(u, s, t) for u, s, t in self.loaded if "json" in t]
        assert not shown_json, f"JSON answered to the browser: {shown_json}"
        overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{self.page.url} is {overflow} px wider than the {self.kind} screen"

    def banner(self, kind: str = "notice") -> str:
        return self.page.inner_text(f".banner.{kind}").strip()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}-{self.kind}.png")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(playwright_browser, stack):
    portal = Portal(playwright_browser, stack.url, DESKTOP, "desktop")
    yield portal
    portal.close()


@pytest.fixture
def phone(playwright_browser, stack):
    portal = Portal(playwright_browser, stack.url, PHONE, "phone")
    yield portal
    portal.close()
