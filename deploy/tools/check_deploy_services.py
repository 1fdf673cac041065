"""Checks of compose.yaml, nginx.conf (through nginx itself), the systemd units and the observability files (metric
names, the Grafana dashboard's queries): see check_deploy.py."""

from __future__ import annotations

import http.server
import json
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

# The sibling modules import each other by name, however this file is reached (script, -m, or an import).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from check_deploy_common import (
    DEPLOY, FLOWTALK, ROOT, check_production, check_variables, fail, readme_configuration, readme_ports,
)

# Metrics the code does not define yet but that are agreed (issue 14): allowed in rules and dashboards.
NEW_METRICS = {"flowtalk_http_requests_total": "counter"}
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf",
    "nan", "atan2", "start", "end",
}


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


# --- systemd units ---------------------------------------------------------------------------------------------------

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
            ("/api/activity?limit=5", "analytics"), ("/api/conversations?q=porto", "analytics"), ("/api/conversations/c1/pause", "auth"), ("/api/statsx", "auth"), ("/api/rules", "auth"), ("/", "auth"),
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
