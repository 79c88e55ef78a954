"""Local dev stack plumbing: the embedded servers, readiness checks, `xianjie dev`.

A fresh machine has only Python, so PostgreSQL, Temporal and the Kafka-protocol
broker (tansu) all come from wheels and run as child processes. No business
rules live here.
"""

from services.common.devstack.checks import (
    broker_problem,
    create_topics,
    http_problem,
    port_open,
    postgres_problem,
    split_address,
    temporal_problem,
    wait_for,
    wait_for_stack,
)
from services.common.devstack.dev import bootstrap, dev_command, dev_processes
from services.common.devstack.servers import (
    SEARCH_ATTRIBUTES,
    EmbeddedBroker,
    EmbeddedPostgres,
    EmbeddedStack,
    EmbeddedTemporal,
    ServerProcess,
    create_database,
    drop_database,
    embedded_stack,
    free_port,
    venv_binary,
)

__all__ = [
    "SEARCH_ATTRIBUTES",
    "EmbeddedBroker",
    "EmbeddedPostgres",
    "EmbeddedStack",
    "EmbeddedTemporal",
    "ServerProcess",
    "bootstrap",
    "broker_problem",
    "create_database",
    "create_topics",
    "dev_command",
    "dev_processes",
    "drop_database",
    "embedded_stack",
    "free_port",
    "http_problem",
    "port_open",
    "postgres_problem",
    "split_address",
    "temporal_problem",
    "venv_binary",
    "wait_for",
    "wait_for_stack",
]
