"""All configuration, read from the environment in one place.

Every value has a default that runs on one machine (`make dev`); a county or a
province overrides them with environment variables (see README, "Configuration").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIANJIE_", extra="ignore")

    # Where the embedded servers keep their data (PostgreSQL, Temporal's SQLite, uploads).
    var_dir: Path = REPO_ROOT / "var"

    # PostgreSQL. DATABASE_URL wins; otherwise the embedded server on pg_port.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_database: str = "xianjie"
    pg_pool_min: int = 1
    pg_pool_max: int = 10
    pg_read_pool_max: int = 4  # an API's second pool, on its event loop, for page-view reads (db.create_read_pool)

    # Temporal.
    temporal_address: str = Field(default="127.0.0.1:7233", validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", validation_alias="TEMPORAL_NAMESPACE")
    temporal_task_queue: str = "xianjie"
    temporal_workflow_id_prefix: str = ""  # lets several deployments (or tests) share one namespace
    temporal_ui_port: int = 8233
    temporal_metrics_port: int = 9110  # the dev server's own /metrics

    # Kafka protocol broker. tansu joins a group only after the rebalance timeout,
    # which kafka-python takes from max_poll_interval_ms: keep it short here.
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 1000
    kafka_max_poll_interval_ms: int = 3000
    kafka_request_timeout_ms: int = 15000
    kafka_max_poll_records: int = 2000  # one consumer transaction: larger amortises the commit
    kafka_linger_ms: int = 5
    relay_batch_size: int = 500
    relay_idle_sleep_s: float = 0.2
    # The alerts consumer re-counts a village for the village-level rule (3% / 5%) when a household
    # of it changed (household.updated), else at most once per this many seconds.
    alerts_village_recount_s: float = 30.0

    # HTTP ports of the three APIs and the metrics/health ports of the background processes.
    tasks_port: int = 8001
    alerts_port: int = 8002
    assessment_port: int = 8003
    # The web portal (门户) and where it finds the three APIs; it calls them with the user's token.
    portal_port: int = 8000
    portal_tasks_url: str = "http://127.0.0.1:8001"
    portal_alerts_url: str = "http://127.0.0.1:8002"
    portal_assessment_url: str = "http://127.0.0.1:8003"
    portal_api_timeout_s: float = 60.0
    portal_cookie_secure: bool = False  # true behind HTTPS: the login cookie is then sent over HTTPS only
    worker_metrics_port: int = 9101
    relay_metrics_port: int = 9102
    alerts_consumer_metrics_port: int = 9103
    assessment_consumer_metrics_port: int = 9104
    temporal_sdk_metrics_port: int = 9111  # the Temporal SDK's own Prometheus exporter (worker)
    bind_host: str = "127.0.0.1"

    # Outgoing webhook for escalations (政务微信 / 钉钉 group bot); empty: none sent.
    webhook_url: str = ""
    webhook_timeout_s: float = 5.0

    # Authentication.
    jwt_secret: str = "xianjie-dev-secret-change-me-in-production-0123456789"
    token_ttl_s: int = 8 * 3600
    # Login rate limit: this many failures for a username from one address within the window
    # refuse further tries (429) until the oldest leaves the window.
    login_max_failures: int = 5
    login_window_s: int = 900
    argon2_time_cost: int = 3  # password hashing cost (argon2id); the hash records its own parameters
    argon2_memory_kib: int = 65536
    demo_password: str = "xianjie-demo"

    @property
    def dsn(self) -> str:
        """Connection string of the database the processes use."""
        if self.database_url:
            return self.database_url
        return f"postgresql://postgres@{self.pg_host}:{self.pg_port}/{self.pg_database}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()
