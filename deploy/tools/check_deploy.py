"""Checks of deploy/ that need Python (run by scripts/check-deploy.sh, which also runs the external validators).

    python deploy/tools/check_deploy.py CHECK [CHECK ...]      (from the repository root)

Checks: compose, kubernetes, systemd-env, kustomization, skips, metrics, grafana-promql FILE, nginx-routes.
Each prints one line per finding ("FAIL ...") and exits 1 if any; `metrics` and `grafana-promql` write what the shell
script hands to promtool. Environment: CHECK_DEPLOY_README overrides README.md (for trying a README change).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path.cwd()
README = Path(os.environ.get("CHECK_DEPLOY_README", ROOT / "README.md"))
DEPLOY = ROOT / "deploy"
FLOWTALK = ("auth", "ingest", "dispatch", "analytics")
# "all" in README's table: the four services and flowtalk-admin (it reads the common configuration); not the sandbox.
ALL = set(FLOWTALK) | {"admin"}
KNOWN = ALL | {"sandbox", "dev"}
# Read by the Swift runtime, not by Flowtalk: allowed without a README row.
RUNTIME_VARIABLES = {"SWIFT_BACKTRACE"}
# Metrics the code does not define yet but that are agreed (issue 14): allowed in rules and dashboards.
NEW_METRICS = {"flowtalk_http_requests_total": "counter"}
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf",
    "nan", "atan2", "start", "end",
}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL {message}")


# --- README's configuration table ----------------------------------------------------------------------------------

class Variable:
    def __init__(self) -> None:
        self.services: set[str] = set()
        self.required: set[str] = set()


def readme_configuration() -> dict[str, Variable]:
    text = README.read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    table: dict[str, Variable] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        used_by = cells[1].lower()
        services = set(re.findall(r"\b(auth|ingest|dispatch|analytics|sandbox|admin)\b", used_by.replace("flowtalk-", "")))
        if re.search(r"\ball\b", used_by):
            services |= ALL
        if "flowtalk-dev" in cells[1]:
            services.add("dev")
        required = cells[2].lower().startswith("required")
        for name in names:
            variable = table.setdefault(name, Variable())
            variable.services |= services
            if required:
                variable.required |= services
    return table


def readme_ports() -> dict[str, int]:
    """Default ports from README's table of services (`flowtalk-auth` | http://127.0.0.1:8081 | ...)."""
    ports = {}
    for name, port in re.findall(r"^\| `flowtalk-(\w+)` \| https?://[\d.]+:(\d+) \|", README.read_text(), re.M):
        ports[name] = int(port)
    return ports


def check_variables(where: str, service: str, env: dict[str, str], table: dict[str, Variable], required: bool = True) -> None:
    for name in sorted(env):
        if name in RUNTIME_VARIABLES:
            continue
        if name not in table:
            fail(f"{where}: {name} is set but README's configuration table has no row for it")
        elif service not in table[name].services:
            fail(f"{where}: {name} is set but README does not list flowtalk-{service} among its users "
                 f"({', '.join(sorted(table[name].services)) or 'none'})")
    for name, variable in sorted(table.items()):
        if required and service in variable.required and not env.get(name):
            fail(f"{where}: {name} is required for flowtalk-{service} (README) but not set")


def check_production(where: str, service: str, env: dict[str, str]) -> None:
    """docs/api.md, "HTTPS": what production mode refuses at start."""
    if env.get("FLOWTALK_ENV", "production") == "development":
        return
    if service in ("auth", "ingest", "analytics"):
        has_tls = env.get("TLS_CERT_FILE") and env.get("TLS_KEY_FILE")
        if not env.get("TRUSTED_PROXIES") and not has_tls:
            fail(f"{where}: production needs TRUSTED_PROXIES or TLS_CERT_FILE and TLS_KEY_FILE")
    for name in ("PUBLIC_URL", "ANALYTICS_URL"):
        value = env.get(name)
        if service in ("auth", "analytics") and value is not None and not value.startswith(("https://", "${")):
            fail(f"{where}: {name} must be https:// outside development (is {value})")
    if service == "auth":
        if env.get("COOKIE_SECURE", "true").lower() in ("false", "0", "no"):
            fail(f"{where}: COOKIE_SECURE=false is refused outside development")
        smtp = env.get("SMTP_URL", "")
        if "tls=none" in smtp:
            fail(f"{where}: SMTP_URL with tls=none is refused outside development")


# --- compose.yaml --------------------------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def interpolate(value: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = values.get(name)
        if op in (":-", "-"):
            return current if current else (arg or "")
        return current or ""
    return INTERPOLATION.sub(one, value)


def check_compose() -> None:
    path = DEPLOY / "compose.yaml"
    raw = path.read_text()
    compose = yaml.safe_load(raw)
    example_path = DEPLOY / "flowtalk.env.example"
    example = env_file(example_path)
    table = readme_configuration()
    ports = readme_ports()
    services = compose.get("services", {})

    expected = {"postgres", "migrate", "proxy", "sandbox", *FLOWTALK}
    if set(services) != expected:
        fail(f"compose: services are {sorted(services)}, expected {sorted(expected)}")
    if services.get("sandbox", {}).get("profiles") != ["dev"]:
        fail("compose: the sandbox must be under the `dev` profile only")
    if "16" not in str(services.get("postgres", {}).get("image", "")).split(":")[-1]:
        fail("compose: postgres must be PostgreSQL 16")

    # Every ${VAR} is in the example env file, and every example variable is used.
    def strings(node: object) -> list[str]:
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in strings(k) + strings(v)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return [node] if isinstance(node, str) else []
    referenced = {m.group(1) for text in strings(compose) for m in INTERPOLATION.finditer(text)}
    for name in sorted(referenced - set(example)):
        fail(f"compose: ${{{name}}} is used but deploy/flowtalk.env.example does not list it")
    for name in sorted(set(example) - referenced):
        fail(f"flowtalk.env.example: {name} is listed but compose.yaml never uses it")
    # Placeholders only: a secret's example value is empty or says CHANGE_ME.
    for name in ("POSTGRES_PASSWORD", "META_APP_SECRET", "META_VERIFY_TOKEN", "PASSWORD_PEPPER", "TOKEN_ENCRYPTION_KEYS",
                 "SMTP_URL", "DATABASE_URL", "GROQ_API_KEY", "INSTAGRAM_APP_SECRET"):
        value = example.get(name, "")
        if value and "CHANGE_ME" not in value:
            fail(f"flowtalk.env.example: {name} must be a CHANGE_ME placeholder or empty, not a value")

    for name, service in services.items():
        if "env_file" in service:
            fail(f"compose: {name} uses env_file, which hands every variable in the file to the container; "
                 "list the service's own variables under environment")
    mapping = {"migrate": "admin", "sandbox": "sandbox", **{s: s for s in FLOWTALK}}
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    for name, readme_name in mapping.items():
        service = services.get(name, {})
        env = {k: ("" if v is None else str(v)) for k, v in (service.get("environment") or {}).items()}
        where = f"compose {name}"
        check_variables(where, readme_name, env, table)
        resolved = {k: interpolate(v, example) for k, v in env.items()}
        check_production(where, readme_name, resolved) if readme_name != "sandbox" else None
        build_args = (service.get("build") or {}).get("args") or {}
        product = "flowtalk-admin" if name == "migrate" else f"flowtalk-{name}"
        if build_args.get("SERVICE") != product:
            fail(f"{where}: build arg SERVICE is {build_args.get('SERVICE')}, expected {product}")
        if name in FLOWTALK:
            if env.get("METRICS_PORT") != "9100":
                fail(f"{where}: METRICS_PORT must be 9100")
            if env.get("FLOWTALK_MIGRATE") != "false":
                fail(f"{where}: FLOWTALK_MIGRATE must be false (the migrate service migrates)")
            replicas = str((service.get("deploy") or {}).get("replicas", ""))
            if not re.fullmatch(rf"\$\{{{name.upper()}_REPLICAS:-\d+\}}", replicas):
                fail(f"{where}: deploy.replicas must be ${{{name.upper()}_REPLICAS:-N}} (is {replicas!r})")
            depends = service.get("depends_on") or {}
            if (depends.get("migrate") or {}).get("condition") != "service_completed_successfully":
                fail(f"{where}: must depend on migrate (service_completed_successfully)")
        if name in ports:
            port = int(resolved.get("PORT") or ports[name])
            exposed = {int(p) for p in service.get("expose", [])}
            wanted = {port} | ({int(env["METRICS_PORT"])} if env.get("METRICS_PORT") else set())
            if not wanted <= exposed:
                fail(f"{where}: expose {sorted(exposed)} lacks {sorted(wanted - exposed)} (PORT/METRICS_PORT)")
            upstreams = {int(p) for p in re.findall(rf"http://{name}:(\d+)", nginx)}
            if name == "dispatch" and upstreams:
                fail("nginx.conf: routes to dispatch, which must be reachable by nobody")
            elif name in ("auth", "ingest", "analytics") and upstreams != {port}:
                fail(f"nginx.conf: upstream ports of {name} are {sorted(upstreams)}, the service listens on {port}")
    migrate = services.get("migrate", {})
    if migrate.get("command") != ["migrate"]:
        fail("compose migrate: command must be [\"migrate\"] (flowtalk-admin migrate)")
    proxy = services.get("proxy", {})
    volumes = " ".join(proxy.get("volumes", []))
    if "./compose/nginx.conf:" not in volumes:
        fail("compose proxy: must mount ./compose/nginx.conf")
    trusted = interpolate(str(services.get("auth", {}).get("environment", {}).get("TRUSTED_PROXIES", "")), example)
    address = interpolate(str(((proxy.get("networks") or {}).get("edge") or {}).get("ipv4_address", "")), example)
    if not trusted or trusted != address:
        fail(f"compose: TRUSTED_PROXIES ({trusted}) must be the proxy's edge address ({address})")
    networks = {n: set(s.get("networks") or []) for n, s in services.items()}
    if networks.get("dispatch", set()) & networks.get("proxy", set()):
        fail("compose: dispatch shares a network with the proxy")
    if networks.get("postgres") != {"backend"}:
        fail("compose: postgres must be on the backend network only")
    if not (compose.get("networks", {}).get("backend") or {}).get("internal"):
        fail("compose: the backend network must be internal")


# --- Kubernetes ----------------------------------------------------------------------------------------------------

def kubernetes_documents() -> list[tuple[Path, dict]]:
    documents = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents.append((path, document))
    return documents


def container_env(container: dict) -> dict[str, str]:
    env = {}
    for item in container.get("env", []):
        env[item["name"]] = str(item.get("value", "<from %s>" % ",".join(item.get("valueFrom", {}))))
    return env


def check_kubernetes() -> None:
    table = readme_configuration()
    ports = readme_ports()
    documents = kubernetes_documents()
    by_kind: dict[str, dict[str, dict]] = {}
    for path, document in documents:
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
        text = json.dumps(document)
        if document["kind"] == "Secret":
            fail(f"kubernetes: {path.name} holds a Secret; create it with kubectl (deploy/README.md) instead")
        if document["metadata"].get("namespace") not in ("flowtalk", None) or (
                document["kind"] != "Namespace" and document["metadata"].get("namespace") != "flowtalk"):
            fail(f"kubernetes: {document['kind']}/{document['metadata']['name']} is not in namespace flowtalk")
        if re.search(r'"value": "(?:postgres://|smtps?://)[^"]*:[^"@]*@', text):
            fail(f"kubernetes: {path.name} inlines a credential in a URL")
    config = by_kind.get("ConfigMap", {}).get("flowtalk-config", {}).get("data", {})
    for name in FLOWTALK:
        app = f"flowtalk-{name}"
        deployment = by_kind.get("Deployment", {}).get(app)
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            if app not in by_kind.get(kind, {}):
                fail(f"kubernetes: {kind} {app} is missing")
        if not deployment:
            continue
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = container_env(container)
        # Values from the ConfigMap resolve for the production checks.
        resolved = dict(env)
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                resolved[item["name"]] = str(config.get(ref["key"], ""))
        check_variables(f"kubernetes {app}", name, env, table)
        check_production(f"kubernetes {app}", name, resolved)
        for item in container.get("env", []):
            if "value" in item and item["name"] not in ("METRICS_PORT", "FLOWTALK_MIGRATE"):
                fail(f"kubernetes {app}: {item['name']} is inlined; take it from flowtalk-config or flowtalk-secrets")
        named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        if name in ports and named.get("http", ports[name]) != ports[name]:
            fail(f"kubernetes {app}: http containerPort {named.get('http')} is not the default port {ports[name]}")
        if named.get("metrics") != 9100 or env.get("METRICS_PORT") != "9100":
            fail(f"kubernetes {app}: metrics must be containerPort 9100 with METRICS_PORT=9100")
        if env.get("FLOWTALK_MIGRATE") != "false":
            fail(f"kubernetes {app}: FLOWTALK_MIGRATE must be false (the migration Job migrates)")
        if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            fail(f"kubernetes {app}: readiness probe must be /readyz")
        if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            fail(f"kubernetes {app}: liveness probe must be /healthz")
        security = container.get("securityContext", {})
        wanted = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
        for key, value in wanted.items():
            if security.get(key, pod.get("securityContext", {}).get(key)) != value:
                fail(f"kubernetes {app}: securityContext.{key} must be {value}")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(f"kubernetes {app}: capabilities must drop ALL")
        seccomp = security.get("seccompProfile") or pod.get("securityContext", {}).get("seccompProfile") or {}
        if seccomp.get("type") != "RuntimeDefault":
            fail(f"kubernetes {app}: seccompProfile must be RuntimeDefault")
        resources = container.get("resources", {})
        if not all(resources.get(a, {}).get(b) for a in ("requests", "limits") for b in ("cpu", "memory")):
            fail(f"kubernetes {app}: cpu and memory requests and limits are all required")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(app, {})
        metrics = hpa.get("spec", {}).get("metrics", [])
        if name == "dispatch":
            names = {m.get(m["type"].lower() if m["type"] != "Pods" else "pods", {}).get("metric", {}).get("name")
                     for m in metrics if m["type"] in ("External", "Pods")}
            if not names & {"flowtalk_jobs_oldest_available_age_seconds", "flowtalk_jobs_depth"}:
                fail("kubernetes flowtalk-dispatch: its HPA must scale on the queue's metrics")
        elif not any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics):
            fail(f"kubernetes {app}: its HPA must scale on CPU")
    service_ports = {n: {p["name"] for p in s["spec"]["ports"]} for n, s in by_kind.get("Service", {}).items()}
    if "http" in service_ports.get("flowtalk-dispatch", set()):
        fail("kubernetes flowtalk-dispatch: its Service must not offer the http port")
    routes = {}
    for ingress in by_kind.get("Ingress", {}).values():
        if not ingress["spec"].get("tls"):
            fail(f"kubernetes Ingress {ingress['metadata']['name']}: TLS is required")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                routes[path["path"]] = backend["name"]
                if backend["name"] not in service_ports or backend["port"].get("name") not in service_ports[backend["name"]]:
                    fail(f"kubernetes Ingress: {path['path']} goes to {backend['name']}:{backend['port']}, which no Service offers")
    wanted_routes = {"/webhooks": "flowtalk-ingest", "/api/stats": "flowtalk-analytics",
                     "/api/activity": "flowtalk-analytics", "/": "flowtalk-auth"}
    if routes != wanted_routes:
        fail(f"kubernetes Ingress: routes are {routes}, expected {wanted_routes}")
    job = by_kind.get("Job", {}).get("flowtalk-migrate")
    if not job:
        fail("kubernetes: the migration Job flowtalk-migrate is missing")
    else:
        container = job["spec"]["template"]["spec"]["containers"][0]
        if container.get("args") != ["migrate"] or "flowtalk-admin" not in container["image"]:
            fail("kubernetes flowtalk-migrate: must run flowtalk-admin migrate")
        check_variables("kubernetes flowtalk-migrate", "admin", container_env(container), table)
    policies = by_kind.get("NetworkPolicy", {})
    if not any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies.values()):
        fail("kubernetes: a default-deny NetworkPolicy (all pods, Ingress and Egress, no rules) is required")


def check_kustomization() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    listed = set(kustomization.get("resources", []))
    present = {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    for name in sorted(listed - present):
        fail(f"kustomization.yaml: resource {name} does not exist")
    for name in sorted(present - listed):
        fail(f"kustomization.yaml: {name} is not listed in resources")
    images = {i["name"] for i in kustomization.get("images", [])}
    used = set()
    for _, document in kubernetes_documents():
        for match in re.findall(r'"image": "([^":@]+)', json.dumps(document)):
            used.add(match)
    for name in sorted(used - images):
        fail(f"kustomization.yaml: image {name} has no entry under images")


def check_systemd_env() -> None:
    table = readme_configuration()
    for path in sorted((DEPLOY / "systemd").glob("flowtalk-*.service")):
        name = path.stem.removeprefix("flowtalk-")
        service = "admin" if name == "migrate" else name
        text = path.read_text()
        env = dict(re.findall(r"^Environment=([A-Z_][A-Z0-9_]*)=(.*)$", text, re.M))
        # Required values come from /etc/flowtalk/*.env, which is the operator's: only what the unit sets is checked.
        check_variables(f"systemd {path.name}", service, env, table, required=False)
        wanted = ["DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                  "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                  "SystemCallFilter=@system-service", "CapabilityBoundingSet=", "LockPersonality=yes",
                  "EnvironmentFile=/etc/flowtalk/flowtalk.env"]
        for line in wanted:
            if not re.search(rf"^{re.escape(line)}$", text, re.M):
                fail(f"systemd {path.name}: missing {line}")
        execs = re.findall(r"^ExecStart=(\S+)", text, re.M)
        if not execs or not all(e.startswith("/opt/flowtalk/bin/") for e in execs):
            fail(f"systemd {path.name}: ExecStart must run a binary under /opt/flowtalk/bin")
        if name == "migrate":
            if "Type=oneshot" not in text or "flowtalk-admin migrate" not in text:
                fail("systemd flowtalk-migrate.service: must be a oneshot running flowtalk-admin migrate")
        elif not re.search(r"^Restart=on-failure$", text, re.M) or "After=" not in text or "flowtalk-migrate.service" not in text:
            fail(f"systemd {path.name}: needs Restart=on-failure and to start after flowtalk-migrate.service")
    units = {p.stem for p in (DEPLOY / "systemd").glob("*.service")}
    wanted_units = {f"flowtalk-{s}" for s in FLOWTALK} | {"flowtalk-migrate"}
    if units != wanted_units:
        fail(f"systemd: units are {sorted(units)}, expected {sorted(wanted_units)}")


def check_skips() -> None:
    """Every checkov skip carries a reason."""
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for match in re.finditer(r"checkov\.io/skip\d+:\s*(.*)", path.read_text()):
            check, _, reason = match.group(1).partition("=")
            if not re.fullmatch(r"CKV2?_[A-Z0-9_]+", check.strip()) or len(reason.strip()) < 10:
                fail(f"{path.name}: checkov skip without a written reason: {match.group(0)}")
    for path in [DEPLOY / "container" / "Dockerfile"]:
        for match in re.finditer(r"checkov:skip=([^\s:]+)(?::(.*))?", path.read_text()):
            if len((match.group(2) or "").strip()) < 10:
                fail(f"{path.name}: checkov skip without a written reason: {match.group(0)}")


# --- metric names --------------------------------------------------------------------------------------------------

def defined_metrics() -> dict[str, str]:
    """Metric names the Swift code defines, with their type: literal labels of Counter/Gauge/Timer/Recorder/Meter,
    and, in files that construct them from a variable label (IngestMetrics), the flowtalk_* literals there."""
    metrics: dict[str, str] = {}
    kinds = {"Counter": "counter", "FloatingPointCounter": "counter", "Gauge": "gauge", "Meter": "gauge",
             "Timer": "histogram", "Recorder": "histogram"}
    for folder in ("Shared", "Services"):
        for path in (ROOT / folder).rglob("*.swift"):
            text = path.read_text()
            for kind, label in re.findall(r"\b(Counter|FloatingPointCounter|Gauge|Meter|Timer|Recorder)\(label:\s*\"([a-z_][a-z0-9_]*)\"", text):
                metrics[label] = kinds[kind]
            for kind in re.findall(r"\b(Counter|FloatingPointCounter|Gauge|Meter|Timer|Recorder)\(label:\s*[a-z]\w*", text):
                for label in re.findall(r"\"(flowtalk_[a-z0-9_]+)\"", text):
                    metrics.setdefault(label, kinds[kind])
    return metrics


def promql_metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\$\{?\w+\}?", "5m", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def known_metric(name: str, metrics: dict[str, str]) -> bool:
    if name == "up" or name in metrics:
        return True
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return metrics.get(base) == "histogram"


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "observability" / "prometheus-rules.yaml").read_text())
    return [(r.get("alert") or r.get("record"), r["expr"]) for g in rules["groups"] for r in g["rules"]]


def grafana_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "observability" / "grafana-dashboard.json").read_text())
    found = []
    def walk(panels: list) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                found.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels", []))
    walk(dashboard.get("panels", []))
    ids = [p["id"] for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        fail("grafana-dashboard.json: panel ids repeat")
    if not found:
        fail("grafana-dashboard.json: no queries")
    return found


def check_metrics() -> None:
    metrics = defined_metrics()
    if len(metrics) < 10:
        fail(f"metrics: only {len(metrics)} metric names found in the code; the search is broken")
    metrics.update({k: v for k, v in NEW_METRICS.items() if k not in metrics})
    for source, expressions in (("prometheus-rules.yaml", rule_expressions()), ("grafana-dashboard.json", grafana_expressions())):
        for title, expr in expressions:
            for name in sorted(promql_metric_names(expr)):
                if not known_metric(name, metrics):
                    fail(f"{source}: {title}: metric {name} is not defined in Shared/ or Services/")


def write_grafana_rules(out: str) -> None:
    """The dashboard's queries as recording rules, so that promtool checks their syntax."""
    rules = [{"record": f"grafana:query:{i}", "expr": expr.replace("$__rate_interval", "5m").replace("${datasource}", "")}
             for i, (_, expr) in enumerate(grafana_expressions())]
    Path(out).write_text(yaml.safe_dump({"groups": [{"name": "grafana-dashboard", "rules": rules}]}))


# --- nginx: the routes, with nginx itself and stub upstreams ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_nginx_routes() -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = Path(tempfile.mkdtemp(prefix="check-deploy-nginx."))
    seen: list[tuple[str, str, str, str]] = []

    def stub(name: str) -> tuple[http.server.ThreadingHTTPServer, int]:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((name, self.path, self.headers.get("X-Forwarded-Proto", ""), self.headers.get("X-Forwarded-For", "")))
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_POST = do_GET
            def log_message(self, *args: object) -> None:
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, server.server_address[1]

    servers = {name: stub(name) for name in ("auth", "ingest", "analytics")}
    https_port, http_port = free_port(), free_port()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(work / "tls.key"), "-out", str(work / "tls.crt")], check=True, capture_output=True)
    conf = (DEPLOY / "compose" / "nginx.conf").read_text()
    for name, (_, port) in servers.items():
        conf = re.sub(rf"http://{name}:\d+", f"http://127.0.0.1:{port}", conf)
    conf = (conf.replace("/tmp/", f"{work}/").replace("/etc/nginx/tls/", f"{work}/")
            .replace("listen 8443", f"listen 127.0.0.1:{https_port}").replace("listen 8080", f"listen 127.0.0.1:{http_port}")
            .replace("access_log /dev/stdout", f"access_log {work}/access.log")
            .replace("error_log /dev/stderr", f"error_log {work}/error.log"))
    (work / "nginx.conf").write_text(conf)
    test = subprocess.run([nginx, "-t", "-q", "-p", str(work), "-c", str(work / "nginx.conf")], capture_output=True, text=True)
    if test.returncode != 0:
        fail(f"nginx.conf: nginx -t: {test.stderr.strip()}")
        return
    process = subprocess.Popen([nginx, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def get(url: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(url, context=context, timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, ""

        cases = [
            ("/webhooks/instagram?hub.mode=subscribe", "ingest"), ("/api/stats?from=2026-01-01", "analytics"),
            ("/api/activity?limit=5", "analytics"), ("/api/statsx", "auth"), ("/api/rules", "auth"), ("/", "auth"),
            ("/privacy", "auth"),
        ]
        for path, wanted in cases:
            status, body = get(f"https://127.0.0.1:{https_port}{path}")
            if (status, body) != (200, wanted):
                fail(f"nginx.conf: https {path} reached {body or status}, expected {wanted}")
            elif seen and (seen[-1][2], seen[-1][3]) != ("https", "127.0.0.1"):
                fail(f"nginx.conf: {path}: X-Forwarded-Proto/-For were {seen[-1][2:]}, expected https, 127.0.0.1")
        status, _ = get(f"https://127.0.0.1:{https_port}/metrics")
        if status != 404:
            fail(f"nginx.conf: /metrics answered {status} through the proxy, expected 404")
        status, body = get(f"http://127.0.0.1:{http_port}/dashboard")
        if (status, body) != (200, "auth") or seen[-1][2] != "http":
            fail(f"nginx.conf: plain HTTP must reach auth marked X-Forwarded-Proto http (got {status} {body} {seen[-1:]})")
        if "hub.mode" in (work / "access.log").read_text():
            fail("nginx.conf: the access log records query strings (Meta's verify token travels there)")
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server, _ in servers.values():
            server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    args = sys.argv[1:]
    checks = {"compose": check_compose, "kubernetes": check_kubernetes, "kustomization": check_kustomization,
              "systemd-env": check_systemd_env, "skips": check_skips, "metrics": check_metrics,
              "nginx-routes": check_nginx_routes}
    while args:
        name = args.pop(0)
        if name == "grafana-promql":
            write_grafana_rules(args.pop(0))
        else:
            checks[name]()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
