"""The Kubernetes manifests of deploy/k8s agree with the code, without a cluster.

Every YAML document is a Kubernetes object; every process of `xianjie serve` has a
Deployment running exactly it, with probes on the port its setting gives; every
environment variable is a real setting; the Kafka topics are those of
`services.common.events`; every metrics port is scraped; and so on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from services.common.config import REPO_ROOT, Settings
from services.common.devstack import (
    SEARCH_ATTRIBUTES,  # what every embedded Temporal registers
)
from services.common.events import all_topics
from services.serve import APIS, HTTP_PROCESSES, PORTAL, PROCESSES

K8S = REPO_ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = {name: K8S / "overlays" / name for name in ("county", "province")}
SECRET_EXAMPLE = K8S / "secret.example.yaml"
TEMPORAL_VALUES = K8S / "temporal" / "values-temporal.yaml"
PHASES = {"platform", "migrate", "apps"}
KUBERNETES_VERSION = "1.32"  # the oldest Kubernetes the manifests are validated against
WORKER_POOL_MAX = 20  # workflows/worker.py: create_pool(max_size=20)



def yaml_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml"))


def is_helm_values(path: Path) -> bool:
    return path.name.startswith("values-")


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kustomization_files(folder: Path) -> list[Path]:
    """The resource files a kustomization lists, following nested kustomizations."""
    kust = load(folder / "kustomization.yaml")[0]
    out = []
    for entry in kust.get("resources", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            out += kustomization_files(target)
        else:
            out.append(target)
    return out


def objects(folder: Path) -> list[dict]:
    return [d for f in kustomization_files(folder) for d in load(f)]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def by_name(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


def accepted_env_names() -> set[str]:
    """The environment variables Settings reads: the alias if a field has one, else prefix + name."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add((prefix + name).upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:  # AliasChoices
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
    return names


def env_to_field() -> dict[str, str]:
    prefix = Settings.model_config.get("env_prefix", "")
    out = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        out[(alias if isinstance(alias, str) else prefix + name).upper()] = name
    return out


def port_setting(process: str) -> str:
    return HTTP_PROCESSES[process][1] if process in HTTP_PROCESSES else process.replace("-", "_") + "_metrics_port"


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return objects(BASE)


@pytest.fixture(scope="module")
def configmap(base) -> dict[str, str]:
    return by_name(base, "ConfigMap")["xianjie-config"]["data"]


@pytest.fixture(scope="module")
def secret_example() -> dict:
    return load(SECRET_EXAMPLE)[0]


@pytest.fixture(scope="module")
def temporal_values() -> dict:
    return load(TEMPORAL_VALUES)[0]


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


# --- every file ---------------------------------------------------------------------


def test_the_folder_has_manifests():
    assert len(yaml_files()) >= 10
    assert (K8S / "Containerfile").is_file() and (K8S / "README.md").is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_document_is_a_kubernetes_object(path: Path):
    docs = load(path)
    assert docs, f"{path} is empty"
    if is_helm_values(path):
        assert all(isinstance(d, dict) and "apiVersion" not in d for d in docs), "Helm values are not objects"
        return
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document that is not a mapping"
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], f"{path}: no apiVersion"
        assert isinstance(doc.get("kind"), str) and doc["kind"], f"{path}: no kind"
        assert isinstance(doc.get("metadata"), dict) and doc["metadata"].get("name"), f"{path}: no metadata.name"


def test_every_manifest_belongs_to_a_kustomization():
    listed: set[Path] = set()
    for kust in K8S.rglob("kustomization.yaml"):
        spec = load(kust)[0]
        for entry in spec.get("resources", []):
            target = (kust.parent / entry).resolve()
            assert target.exists(), f"{kust}: {entry} does not exist"
            listed.add(target)
        for patch in spec.get("patches", []):
            if "path" in patch:
                target = (kust.parent / patch["path"]).resolve()
                assert target.exists(), f"{kust}: patch {patch['path']} does not exist"
                listed.add(target)
    for path in yaml_files():
        if path.name == "kustomization.yaml" or is_helm_values(path) or path.name.endswith(".example.yaml"):
            continue
        assert path.resolve() in listed, f"{path.relative_to(K8S)} is in no kustomization"


def test_the_secret_examples_are_never_applied(secret_example):
    def strings(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    for kust in K8S.rglob("kustomization.yaml"):
        spec = load(kust)[0]
        assert not [v for v in strings(spec) if "secret.example" in v], f"{kust} applies the example secret"
        assert "secretGenerator" not in spec, f"{kust}: secrets come from the province, not from the repository"
    assert secret_example["kind"] == "Secret" and secret_example["metadata"]["name"] == "xianjie-secrets"
    examples = load(SECRET_EXAMPLE)
    assert {d["metadata"]["name"] for d in examples} == {"xianjie-secrets", "xianjie-backup-s3"}
    for doc in examples:
        assert "example" in " ".join(doc["metadata"].get("annotations", {}).values()).lower()
        assert all("EXAMPLE" in v for v in doc["stringData"].values())


def test_every_base_object_has_a_deploy_phase(base):
    for doc in base:
        phase = doc["metadata"].get("labels", {}).get("xianjie-phase")
        assert phase in PHASES, f"{doc['kind']}/{doc['metadata']['name']} has phase {phase!r}"
    assert {d["kind"] for d in base if d["metadata"]["labels"]["xianjie-phase"] == "migrate"} == {"Job", "NetworkPolicy"}


# --- processes ------------------------------------------------------------------------


def test_one_deployment_per_process(base):
    deployments = of_kind(base, "Deployment")
    commands = []
    for d in deployments:
        cmd = container(d)["command"]
        assert cmd[:2] == ["xianjie", "serve"] and len(cmd) == 3, f"{d['metadata']['name']}: {cmd}"
        assert cmd[2] in PROCESSES, f"{d['metadata']['name']} runs unknown process {cmd[2]!r}"
        assert d["metadata"]["name"] == cmd[2]
        commands.append(cmd[2])
    assert Counter(commands) == Counter(PROCESSES), "every process exactly one Deployment"


def test_containers_read_settings_and_secrets(base, configmap):
    accepted = accepted_env_names()
    for d in of_kind(base, "Deployment") + of_kind(base, "Job"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        sources = {(k, v["name"]) for e in c.get("envFrom", []) for k, v in e.items()}
        assert sources == {("configMapRef", "xianjie-config"), ("secretRef", "xianjie-secrets")}, d["metadata"]["name"]
        for e in c.get("env", []):
            assert e["name"] in accepted, f"{d['metadata']['name']}: {e['name']} is not a setting"


def test_probes_use_the_configured_ports(base, configmap):
    names = {v: k for k, v in env_to_field().items()}
    for d in of_kind(base, "Deployment"):
        process = d["metadata"]["name"]
        c = container(d)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        expected = int(configmap[names[port_setting(process)]])
        assert expected == getattr(Settings(), port_setting(process)), "the ConfigMap keeps the default ports"
        live, ready, startup = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"], c["startupProbe"]["httpGet"]
        if process in HTTP_PROCESSES:
            assert ports["http"] == expected
            assert (live["path"], live["port"]) == ("/healthz", "http")
            assert (ready["path"], ready["port"]) == ("/readyz", "http")
        else:
            assert ports["metrics"] == expected
            assert (live["path"], live["port"]) == ("/healthz", "metrics")
            assert ready["port"] == "metrics"
        assert startup["path"] == "/healthz"
        if process == "worker":
            assert ports["sdk-metrics"] == int(configmap["XIANJIE_TEMPORAL_SDK_METRICS_PORT"])


def test_pods_are_locked_down_and_sized(base):
    for d in of_kind(base, "Deployment") + of_kind(base, "Job"):
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), f"{name}: {part}"
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


def test_var_dir_is_a_writable_volume(base, configmap):
    for d in of_kind(base, "Deployment"):
        mounts = {m["mountPath"] for m in container(d)["volumeMounts"]}
        assert configmap["XIANJIE_VAR_DIR"] in mounts, d["metadata"]["name"]


def test_the_relay_runs_alone(base):
    relay = by_name(base, "Deployment")["relay"]
    assert relay["spec"]["replicas"] == 1
    assert relay["spec"]["strategy"]["type"] == "Recreate"
    assert "relay" not in by_name(base, "HorizontalPodAutoscaler")


def test_migration_job_runs_db_migrate(base):
    (job,) = of_kind(base, "Job")
    assert container(job)["command"] == ["xianjie", "db", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    from services.cli import db_app

    assert "migrate" in {c.name for c in db_app.registered_commands}


# --- services, scaling, monitoring -------------------------------------------------------


def test_services_select_their_deployments(base):
    deployments = by_name(base, "Deployment")
    services = by_name(base, "Service")
    assert set(services) == set(deployments)
    for name, svc in services.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= pod_labels.items(), name
        container_ports = {p["name"] for p in container(deployments[name])["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} == container_ports, name


def test_every_metrics_port_is_scraped(base):
    monitors = of_kind(base, "ServiceMonitor")
    for svc in of_kind(base, "Service"):
        labels = svc["metadata"]["labels"]
        scraped = {
            ep["port"]
            for m in monitors
            if m["spec"]["selector"]["matchLabels"].items() <= labels.items()
            for ep in m["spec"]["endpoints"]
            if ep.get("path", "/metrics") == "/metrics"
        }
        assert scraped == {p["name"] for p in svc["spec"]["ports"]}, svc["metadata"]["name"]


def test_apis_and_the_worker_autoscale_and_every_process_has_a_disruption_budget(base):
    deployments = by_name(base, "Deployment")
    hpas = by_name(base, "HorizontalPodAutoscaler")
    assert set(hpas) == {*HTTP_PROCESSES, "worker"}
    for name, hpa in hpas.items():
        assert "replicas" not in deployments[name]["spec"], f"{name}: the autoscaler owns the replica count"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdbs = by_name(base, "PodDisruptionBudget")
    assert set(pdbs) == set(deployments)
    for name, pdb in pdbs.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# --- settings ----------------------------------------------------------------------------


def test_configmap_keys_are_settings(base, configmap):
    accepted = accepted_env_names()
    assert set(configmap) <= accepted, f"not settings: {sorted(set(configmap) - accepted)}"
    patched = [d for o in OVERLAYS.values() for p in sorted(o.rglob("patches/*.yaml")) for d in load(p)
               if d["kind"] == "ConfigMap"]
    assert patched, "the province overlay patches settings"
    for doc in patched:
        assert set(doc["data"]) <= accepted, f"not settings: {sorted(set(doc['data']) - accepted)}"


def test_configmap_values_parse_as_settings(configmap, secret_example, monkeypatch):
    fields = env_to_field()
    for key, value in {**configmap, **secret_example["stringData"]}.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    for key, value in configmap.items():
        assert str(getattr(s, fields[key])) == value, key
    assert s.kafka_max_poll_interval_ms >= 60_000, "a real Kafka cluster gets a real rebalance timeout"
    assert s.kafka_heartbeat_interval_ms * 3 <= s.kafka_session_timeout_ms
    assert s.kafka_request_timeout_ms > 500  # above kafka-python's fetch_max_wait_ms
    assert s.bind_host == "0.0.0.0"


def test_secrets_stay_out_of_the_configmap(configmap, secret_example):
    secret_keys = set(secret_example["stringData"])
    assert secret_keys == {"DATABASE_URL", "XIANJIE_JWT_SECRET"}
    assert secret_keys <= accepted_env_names()
    assert not secret_keys & set(configmap)


def test_connection_settings_point_at_the_platform(base, configmap, secret_example, temporal_values):
    (ns,) = by_name(base, "Namespace")
    (kafka,) = of_kind(base, "Kafka")
    (pg,) = of_kind(base, "Cluster")
    bootstrap = configmap["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap.startswith(f"{kafka['metadata']['name']}-kafka-bootstrap.{ns}.")
    port = {lst["name"]: lst["port"] for lst in kafka["spec"]["kafka"]["listeners"]}["plain"]
    assert bootstrap.endswith(f":{port}")
    db = urlsplit(secret_example["stringData"]["DATABASE_URL"])
    assert db.hostname.startswith(f"{pg['metadata']['name']}-rw.{ns}.")
    assert db.path.lstrip("/") == pg["spec"]["bootstrap"]["initdb"]["database"]
    assert db.username == pg["spec"]["bootstrap"]["initdb"]["owner"]
    created = [n["name"] for n in temporal_values["server"]["config"]["namespaces"]["namespace"]]
    assert temporal_values["server"]["config"]["namespaces"]["create"] is True
    assert configmap["TEMPORAL_NAMESPACE"] in created
    assert configmap["TEMPORAL_ADDRESS"].startswith("temporal-frontend.temporal.")


# --- Kafka and Temporal -------------------------------------------------------------------


def test_kafka_topics_match_the_event_contract(base):
    topics = of_kind(base, "KafkaTopic")
    declared = {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"] for t in topics}
    assert declared == all_topics()
    (kafka,) = of_kind(base, "Kafka")
    brokers = sum(p["spec"]["replicas"] for p in of_kind(base, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    for t in topics:
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert t["spec"]["replicas"] <= brokers
        assert int(t["spec"]["config"]["min.insync.replicas"]) < t["spec"]["replicas"]


def test_temporal_values_register_the_search_attributes(temporal_values):
    persistence = temporal_values["server"]["config"]["persistence"]
    for store in ("default", "visibility"):
        sql = persistence["datastores"][persistence[f"{store}Store"]]["sql"]
        assert sql["pluginName"] == sql["driverName"] == "postgres12"
    jobs = [o for o in temporal_values["extraObjects"] if o["kind"] == "Job"]
    (job,) = jobs
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    registered = dict(pair.split("=") for pair in env["SEARCH_ATTRIBUTES"].split())
    assert registered == SEARCH_ATTRIBUTES
    namespaces = [n["name"] for n in temporal_values["server"]["config"]["namespaces"]["namespace"]]
    assert env["TEMPORAL_NAMESPACE"] in namespaces


# --- the real build, where kustomize is at hand ----------------------------------------


def kustomize_build(folder: Path) -> list[dict]:
    if shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(folder)]
    elif shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(folder)]
    else:
        pytest.skip("neither kubectl nor kustomize is installed")
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request) -> tuple[str, list[dict]]:
    """(name, rendered objects) of each overlay."""
    return request.param, kustomize_build(OVERLAYS[request.param])


def test_the_overlay_builds(overlay):
    name, docs = overlay
    spec = load(OVERLAYS[name] / "kustomization.yaml")[0]
    image = "{newName}:{newTag}".format(**spec["images"][0])
    assert not of_kind(docs, "Secret"), "the build must not carry a Secret"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"xianjie"}
    for d in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        assert container(d)["image"] == image
    assert Counter(container(d)["command"][2] for d in of_kind(docs, "Deployment")) == Counter(PROCESSES)
    for process in (*HTTP_PROCESSES, "worker"):
        assert "replicas" not in by_name(docs, "Deployment")[process]["spec"], f"{process}: the autoscaler owns it"
    for d in docs:
        assert d["metadata"]["labels"]["xianjie-phase"] in PHASES
    for m in of_kind(docs, "ServiceMonitor") + of_kind(docs, "PodMonitor") + of_kind(docs, "PrometheusRule"):
        assert "release" in m["metadata"]["labels"]
    cm = by_name(docs, "ConfigMap")["xianjie-config"]["data"]
    assert set(cm) <= accepted_env_names()


def test_core_kinds_validate_against_the_kubernetes_schemas(overlay):
    name, docs = overlay
    core = [d for d in docs if "." not in d["apiVersion"].split("/")[0] or d["apiVersion"].split("/")[0].endswith(".k8s.io")]
    assert {d["kind"] for d in core} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                                         "NetworkPolicy", "ConfigMap", "Job", "Namespace", "ServiceAccount"}
    for d in core:
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.path)}")


def test_the_validator_rejects_a_wrong_field():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}}, "replicas": "two",
                           "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


# What each operator refuses a custom resource without (Strimzi, CloudNativePG, the
# Prometheus Operator): dotted paths into the object that must hold a value.
CR_REQUIRED = {
    "Kafka": ["spec.kafka.listeners"],
    "KafkaNodePool": ["metadata.labels.strimzi.io/cluster", "spec.replicas", "spec.roles", "spec.storage.type"],
    "KafkaTopic": ["metadata.labels.strimzi.io/cluster", "spec.partitions", "spec.replicas"],
    "Cluster": ["spec.instances", "spec.storage.size", "spec.backup.barmanObjectStore.destinationPath",
                "spec.backup.barmanObjectStore.s3Credentials.accessKeyId.name",
                "spec.backup.barmanObjectStore.s3Credentials.secretAccessKey.name"],
    "ScheduledBackup": ["spec.schedule", "spec.cluster.name"],
    "Database": ["spec.name", "spec.owner", "spec.cluster.name"],
    "ServiceMonitor": ["spec.selector.matchLabels", "spec.endpoints"],
    "PodMonitor": ["spec.selector.matchLabels", "spec.podMetricsEndpoints"],
    "PrometheusRule": ["spec.groups"],
}


def value_at(doc: dict, dotted: str):
    """The value at a dotted path; a label key (metadata.labels.<key>) keeps its own dots."""
    parts = ["metadata", "labels", dotted.removeprefix("metadata.labels.")] if dotted.startswith("metadata.labels.") \
        else dotted.split(".")
    node = doc
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_custom_resources(docs: list[dict]) -> None:
    for d in docs:
        for path in CR_REQUIRED.get(d["kind"], []):
            assert value_at(d, path) not in (None, "", [], {}), f"{d['kind']}/{d['metadata']['name']}: {path} missing"
    clusters = {d["metadata"]["name"] for d in of_kind(docs, "Cluster")}
    for b in of_kind(docs, "ScheduledBackup"):
        assert b["spec"]["cluster"]["name"] in clusters
        assert len(b["spec"]["schedule"].split()) == 6, "CloudNativePG schedules have a seconds field"
    for c in of_kind(docs, "Cluster"):
        assert re.fullmatch(r"\d+[dwm]", c["spec"]["backup"]["retentionPolicy"])
        assert c["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    for m in of_kind(docs, "ServiceMonitor"):
        assert all("port" in ep for ep in m["spec"]["endpoints"])
    for r in of_kind(docs, "PrometheusRule"):
        for g in r["spec"]["groups"]:
            assert g["name"] and all(("alert" in x or "record" in x) and x["expr"] for x in g["rules"])


def test_custom_resources_have_what_their_operators_require(overlay):
    _, docs = overlay
    assert {d["kind"] for d in docs} >= {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster", "ScheduledBackup",
                                         "ServiceMonitor", "PodMonitor", "PrometheusRule"}
    check_custom_resources(docs)


def test_the_custom_resource_check_can_fail():
    with pytest.raises(AssertionError, match="strimzi.io/cluster"):
        check_custom_resources([{"kind": "KafkaTopic", "metadata": {"name": "t", "labels": {}},
                                 "spec": {"partitions": 3, "replicas": 3}}])


def test_topics_have_at_least_the_contract_partitions_and_feed_every_consumer(overlay):
    from services.alerts import consumer as alerts_consumer
    from services.assessment import consumer as assessment_consumer

    name, docs = overlay
    partitions = {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")}
    assert set(partitions) == set(all_topics())
    for topic, least in all_topics().items():
        assert partitions[topic] >= least, f"{name}: {topic} has fewer partitions than services/common/events.py"
    deployments = by_name(docs, "Deployment")
    for consumer, module in (("alerts-consumer", alerts_consumer), ("assessment-consumer", assessment_consumer)):
        most = max(partitions[t] for t in module.TOPICS)
        assert deployments[consumer]["spec"]["replicas"] <= most, f"{name}: {consumer} replicas beyond partitions idle"


def test_the_province_has_more_of_everything_than_the_county():
    county, province = (kustomize_build(OVERLAYS[n]) for n in ("county", "province"))

    def most(docs, kind, name, field):
        return by_name(docs, kind)[name]["spec"][field]

    for process in (*HTTP_PROCESSES, "worker"):
        assert most(county, "HorizontalPodAutoscaler", process, "maxReplicas") == 1, "a county runs one of each"
        assert most(province, "HorizontalPodAutoscaler", process, "maxReplicas") > 1
    for consumer in ("alerts-consumer", "assessment-consumer"):
        assert most(county, "Deployment", consumer, "replicas") == 1
        assert most(province, "Deployment", consumer, "replicas") > 2
    assert most(province, "KafkaTopic", "household.events", "partitions") > most(county, "KafkaTopic", "household.events", "partitions")
    assert most(province, "Cluster", "xianjie-pg", "instances") > most(county, "Cluster", "xianjie-pg", "instances")


def test_a_single_replica_never_blocks_a_node_drain(overlay):
    name, docs = overlay
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        target = pdb["metadata"]["name"]
        hpa = by_name(docs, "HorizontalPodAutoscaler").get(target)
        least = hpa["spec"]["minReplicas"] if hpa else by_name(docs, "Deployment")[target]["spec"]["replicas"]
        if "minAvailable" in pdb["spec"]:
            assert pdb["spec"]["minAvailable"] < least, f"{name}: {target} could never be evicted"


def test_database_connections_fit_max_connections(overlay):
    name, docs = overlay
    cm = by_name(docs, "ConfigMap")["xianjie-config"]["data"]
    hpas = by_name(docs, "HorizontalPodAutoscaler")
    deployments = by_name(docs, "Deployment")
    pool_max = int(cm["XIANJIE_PG_POOL_MAX"]) + int(cm["XIANJIE_PG_READ_POOL_MAX"])
    # The APIs' two pools each (the portal opens no database connection).
    needed = sum(hpas[a]["spec"]["maxReplicas"] * pool_max for a in APIS)
    needed += hpas["worker"]["spec"]["maxReplicas"] * WORKER_POOL_MAX
    needed += sum(deployments[c]["spec"]["replicas"] for c in ("alerts-consumer", "assessment-consumer"))
    needed += 2 + 1  # the relay (outbox, business-state counts) and the migration Job
    (pg,) = of_kind(docs, "Cluster")
    reserved = 3  # superuser_reserved_connections
    assert needed <= int(pg["spec"]["postgresql"]["parameters"]["max_connections"]) - reserved, f"{name}: {needed}"


def test_only_the_apis_are_reachable_from_the_ingress(overlay):
    name, docs = overlay
    deployments = by_name(docs, "Deployment")
    policies = of_kind(docs, "NetworkPolicy")

    def selects(policy, labels):
        sel = policy["spec"]["podSelector"]
        ok = sel.get("matchLabels", {}).items() <= labels.items()
        for e in sel.get("matchExpressions", []):
            ok &= e["operator"] == "In" and labels.get(e["key"]) in e["values"]
        return ok

    def sources(labels):
        found = set()
        for pol in policies:
            if selects(pol, labels):
                assert "Ingress" in pol["spec"]["policyTypes"]
                for rule in pol["spec"].get("ingress", []):
                    for src in rule.get("from", []):
                        assert "ipBlock" not in src, "no address ranges: namespaces and our own pods only"
                        if "podSelector" in src:  # pods of this namespace: by their component
                            found.add("pod:" + src["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
                        else:
                            found.add(src["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
        return found

    for process, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        reachable = sources(labels)
        assert any(selects(p, labels) for p in policies), f"{process} has no NetworkPolicy"
        if process in APIS:
            assert reachable == {"ingress-nginx", "monitoring", "pod:portal"}, process
        elif process in PORTAL:
            assert reachable == {"ingress-nginx", "monitoring"}, process
        else:
            assert reachable == {"monitoring"}, f"{name}: {process} must not be reachable from the ingress"
    (job,) = of_kind(docs, "Job")
    assert sources(job["spec"]["template"]["metadata"]["labels"]) == set()


def test_the_dashboards_ship_as_a_configmap_for_grafana(overlay):
    _, docs = overlay
    cm = by_name(docs, "ConfigMap")["xianjie-dashboards"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    on_disk = sorted(p.name for p in (REPO_ROOT / "deploy" / "grafana").glob("*.json"))
    assert sorted(cm["data"]) == on_disk
    for file in on_disk:
        assert cm["data"][file] == (REPO_ROOT / "deploy" / "grafana" / file).read_text(encoding="utf-8")


def test_the_temporal_database_builds():
    docs = kustomize_build(K8S / "temporal")
    assert {d["kind"] for d in docs} >= {"Namespace", "Cluster", "Database", "ScheduledBackup"}
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"temporal"}
    for d in of_kind(docs, "Namespace"):
        kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
    check_custom_resources(docs)


def test_the_county_temporal_values_only_shrink_the_province_ones(temporal_values):
    county = load(K8S / "temporal" / "values-temporal-county.yaml")[0]
    assert "config" not in county["server"], "persistence, shards and namespaces stay those of values-temporal.yaml"
    assert county["server"]["history"]["replicaCount"] < temporal_values["server"]["history"]["replicaCount"]
