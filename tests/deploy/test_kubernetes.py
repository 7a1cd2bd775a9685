"""deploy/kubernetes renders (kubectl kustomize, offline) into well-formed objects that
agree with each other and with what the code reads: ports, labels and selectors, probe
routes, environment variables, secret names; the generated PrometheusRule holds exactly
the rule file's groups, and no secret is a literal."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.mixin.config import load_alert_config
from exporter.mixin.dashboards.generate import render as render_boards
from exporter.mixin.kubernetes import compact, dashboard_configmaps, dump, prometheus_rule
from exporter.mixin.rules import generate
from exporter.settings.load import DEFAULT_PORT, Settings

from ..conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy/kubernetes"


def rendered() -> dict[tuple[str, str], dict]:
    """The kustomization, rendered the way kustomize does for the features it uses (a
    resources list and metadata labels; test_kustomization_uses_only_what_we_render
    holds it to that): kubectl is not in Debian's package index, so CI has none."""
    k = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    labels = {key: value for entry in k["labels"] for key, value in entry["pairs"].items()}
    objects = []
    for resource in k["resources"]:
        for o in yaml.safe_load_all((DEPLOY / resource).read_text()):
            if o:
                o["metadata"].setdefault("labels", {}).update(labels)
                objects.append(o)
    for o in objects:
        assert {"apiVersion", "kind", "metadata"} <= set(o), o
        assert o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "llm-exporter"
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_kustomization_uses_only_what_we_render() -> None:
    k = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert set(k) == {"apiVersion", "kind", "labels", "resources"}
    assert all(set(entry) == {"pairs"} for entry in k["labels"])  # no selector rewriting
    assert sorted(k["resources"]) == sorted(p.name for p in DEPLOY.glob("*.yaml")
                                            if p.name != "kustomization.yaml")


def test_kubectl_kustomize_renders_the_same() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (it is not in Debian's package index); "
                    "the Python rendering above stands in for it")
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True,
                         check=True).stdout
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(out) if o}
    assert theirs == rendered()


def test_generated_manifests_are_current() -> None:
    cfg = load_alert_config(ROOT / "alerts/config.yml")
    assert (DEPLOY / "prometheusrule.yaml").read_text() == dump([prometheus_rule(generate(cfg))])
    boards = {k: compact(v) for k, v in render_boards(cfg).items()}
    assert (DEPLOY / "dashboards.yaml").read_text() == dump(dashboard_configmaps(boards)), \
        "run `llm-exporter dashboards --format configmap --out deploy/kubernetes/dashboards.yaml`"


def test_the_prometheusrule_holds_the_rule_files_groups(tmp_path: Path) -> None:
    objects = rendered()
    rule = objects[("PrometheusRule", "llm-exporter")]
    committed = [g for name in ("llm.rules.yml", "llm-insights.rules.yml")
                 for g in yaml.safe_load((ROOT / "alerts/generated" / name).read_text())["groups"]]
    assert rule["spec"]["groups"] == committed
    # and it is a valid rule file for promtool
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    subprocess.run([require_binary("promtool"), "check", "rules", str(tmp_path / "rules.yml")],
                   check=True, capture_output=True)
    boards = [o for (kind, _), o in objects.items() if kind == "ConfigMap"]
    assert len(boards) == len(list((ROOT / "dashboards/json").glob("*.json")))
    for cm in boards:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), = cm["data"].items()
        assert compact((ROOT / "dashboards/json" / name).read_text()) == text


def test_ports_labels_selectors_and_probes_agree() -> None:
    objects = rendered()
    deploy = objects[("Deployment", "llm-app")]
    pod = deploy["spec"]["template"]
    sidecar = next(c for c in pod["spec"]["containers"] if c["name"] == "llm-exporter")
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert ports == {"metrics": DEFAULT_PORT}
    pod_labels = pod["metadata"]["labels"]
    sel = deploy["spec"]["selector"]["matchLabels"]
    assert sel.items() <= pod_labels.items()
    service = objects[("Service", "llm-exporter")]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["metrics"]
    monitor = objects[("ServiceMonitor", "llm-exporter")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= \
        {p["name"] for p in service["spec"]["ports"]}
    # the rules select job="llm-exporter": the ServiceMonitor's job is the Service's name,
    # the PodMonitor sets it
    assert load_alert_config(ROOT / "alerts/config.yml").selector == 'job="llm-exporter"'
    assert service["metadata"]["name"] == "llm-exporter"
    pm = objects[("PodMonitor", "llm-exporter-library")]
    relabel = pm["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert {"targetLabel": "job", "replacement": "llm-exporter", "action": "replace"} in relabel
    # probes hit the sidecar's real health routes on its port
    from exporter.server import build_app

    routes = build_app(Settings())._routes
    for probe in ("livenessProbe", "readinessProbe"):
        get = sidecar[probe]["httpGet"]
        assert get["port"] in ports and get["path"] in routes
    assert sidecar["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/-/ready"


def test_the_env_is_what_the_sidecar_reads_and_secrets_are_files(tmp_path: Path) -> None:
    objects = rendered()
    pod = objects[("Deployment", "llm-app")]["spec"]["template"]["spec"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "llm-exporter")
    mount = next(m for m in sidecar["volumeMounts"])["mountPath"]
    volume = next(v for v in pod["volumes"] if v["name"] == sidecar["volumeMounts"][0]["name"])
    secret = volume["secret"]["secretName"]
    # the Secret's keys become files under the mount: stand them up and load the settings
    files = {"ingest-token": "tok-123", "metrics-password": "pw-456"}
    env = {}
    for e in sidecar["env"]:
        if "value" in e:
            value = e["value"]
            if value.startswith(mount + "/"):
                key = value[len(mount) + 1:]
                assert key in files, key
                (tmp_path / key).write_text(files[key])
                value = str(tmp_path / key)
            env[e["name"]] = value
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret
            env[e["name"]] = "prometheus"
    settings = Settings.load(env=env)
    assert settings.server.host == "0.0.0.0" and settings.server.port == DEFAULT_PORT
    assert settings.server.ingest_token == "tok-123"
    assert (settings.server.metrics_user, settings.server.metrics_password) == \
        ("prometheus", "pw-456")
    assert settings.server.collectors == ()
    # the ServiceMonitor authenticates with the same Secret's keys
    auth = objects[("ServiceMonitor", "llm-exporter")]["spec"]["endpoints"][0]["basicAuth"]
    assert {auth["username"]["name"], auth["password"]["name"]} == {secret}
    assert auth["password"]["key"] == "metrics-password"
    slack = objects[("AlertmanagerConfig", "llm-exporter")]["spec"]["receivers"][0]
    assert slack["slackConfigs"][0]["apiURL"] == {"name": "llm-exporter-slack",
                                                  "key": "webhook-url"}
    # no literal secrets: no Secret objects, no webhook URLs, no passwords
    assert not [k for k in objects if k[0] == "Secret"]
    text = "\n".join(p.read_text() for p in DEPLOY.glob("*.yaml"))
    assert "hooks.slack.com" not in text and "tok-" not in text
