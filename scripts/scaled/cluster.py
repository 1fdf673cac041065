"""Flowtalk scaled on one machine: N replicas of each service behind nginx (TLS terminator and load balancer).

Used by `make run-scaled` (run_scaled.py) and its test (scaled_test.py). Only loopback addresses. A replica that exits
is started again after RESTART_DELAY seconds, as an orchestrator would (systemd's Restart=, Kubernetes' restartPolicy).
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ports import free_port  # noqa: E402  (scripts/ports.py, shared with chaos.py)

ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
SERVICES = ("auth", "ingest", "dispatch", "analytics")
DEFAULT_SCALE = {"auth": 2, "ingest": 2, "dispatch": 3, "analytics": 2}
RESTART_DELAY = 1.0


def parse_scale(text):
    """`SCALE="ingest=3 dispatch=5"` over the defaults; a clear error for anything else."""
    scale = dict(DEFAULT_SCALE)
    for item in (text or "").replace(",", " ").split():
        name, _, count = item.partition("=")
        if name not in scale or not count.isdigit() or not 1 <= int(count) <= 32:
            raise ValueError(f"SCALE: {item!r} is not service=count (services: {', '.join(SERVICES)}; counts 1–32)")
        scale[name] = int(count)
    return scale


def make_certificate(directory):
    """A private CA and a server certificate for 127.0.0.1 and localhost, made at start (openssl). Returns the CA's path."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, crt = (directory / n for n in ("ca.key", "ca.crt", "tls.key", "tls.csr", "tls.crt"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
         "-subj", "/CN=Flowtalk local CA", "-keyout", str(ca_key), "-out", str(ca)],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(csr)],
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "30",
         "-extfile", str(ext), "-out", str(crt)],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"openssl failed: {result.stderr.strip()[-300:]}")
    for path in (ca_key, key):
        path.chmod(0o600)
    return ca


def nginx_config(runtime, https_port, ports):
    """The configuration: /webhooks → ingest, /api/stats, /api/activity and /api/conversations → analytics, the rest → auth (as
    deploy/compose/nginx.conf, HTTPS only: in development auth does not redirect plain HTTP), each an upstream of every
    replica. A replica that refuses or drops a connection is
    skipped for 3 s; an idempotent request it failed is passed to the next one."""
    def upstream(name):
        servers = "\n".join(f"        server {LOOPBACK}:{port} max_fails=1 fail_timeout=3s;" for port in ports[name])
        return f"    upstream {name} {{\n{servers}\n        keepalive 32;\n    }}\n"

    proxy = ("            proxy_pass http://{0};\n"
             "            proxy_next_upstream error timeout http_502 http_503;\n"
             "            proxy_next_upstream_tries 3;\n")
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    return f"""# Written by scripts/scaled/cluster.py for make run-scaled; regenerated at every start.
{user}worker_processes 2;
pid {runtime}/nginx.pid;
error_log {runtime}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    server_tokens off;
    client_body_temp_path {runtime}/tmp/body;
    proxy_temp_path {runtime}/tmp/proxy;
    fastcgi_temp_path {runtime}/tmp/fastcgi;
    uwsgi_temp_path {runtime}/tmp/uwsgi;
    scgi_temp_path {runtime}/tmp/scgi;
    log_format flowtalk '$remote_addr [$time_iso8601] "$request_method $uri" $status $request_time $upstream_addr';
    access_log {runtime}/access.log flowtalk;
    client_max_body_size 2m;
    proxy_http_version 1.1;
    proxy_connect_timeout 2s;
    proxy_read_timeout 60s;
{upstream("auth")}{upstream("ingest")}{upstream("analytics")}
    server {{
        listen {LOOPBACK}:{https_port} ssl http2;
        ssl_certificate {runtime}/tls/tls.crt;
        ssl_certificate_key {runtime}/tls/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:tls:10m;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        location = /metrics {{ return 404; }}
        location /webhooks {{
{proxy.format("ingest")}        }}
        location ~ ^/api/(stats|activity|conversations)$ {{
{proxy.format("analytics")}        }}
        location / {{
{proxy.format("auth")}        }}
    }}
}}
"""


class Replica:
    """One service process, restarted when it exits unless the cluster is stopping. Output goes to its log file."""

    def __init__(self, service, index, binary, env, port, metrics_port, logdir):
        self.service, self.index, self.binary, self.env = service, index, binary, env
        self.port, self.metrics_port = port, metrics_port
        self.name = f"{service}-{index}"
        self.logpath = logdir / f"{self.name}.log"
        self.popen = None
        self.starts = 0
        self.exits = []  # return codes of earlier runs

    def start(self):
        env = {**self.env, "PORT": str(self.port), "METRICS_PORT": str(self.metrics_port)}
        with open(self.logpath, "ab") as out:
            out.write(f"=== start {self.starts + 1} at {time.strftime('%H:%M:%S')} ===\n".encode())
            out.flush()
            self.popen = subprocess.Popen([str(self.binary)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(ROOT))
        self.starts += 1

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self):
        if not self.alive():
            return
        self.kill(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait(timeout=10)


class Cluster:
    """PostgreSQL (given, or a private one), the sandbox, every replica and nginx. `start()` returns when all are ready."""

    def __init__(self, workdir, env, scale, https_port, database_url=None, pg_port=None, build="debug", log=print):
        self.workdir, self.env, self.scale, self.log = Path(workdir), dict(env), scale, log
        self.https_port = https_port
        self.database_url, self.pg_port, self.build = database_url, pg_port, build
        self.replicas, self.sandbox, self.nginx = [], None, None
        self.started_pg = False
        self.stopping = threading.Event()
        self.supervisor = None

    @property
    def public_url(self):
        return f"https://{LOOPBACK}:{self.https_port}"

    def binary(self, name):
        path = ROOT / ".build" / self.build / f"flowtalk-{name}"
        if not path.exists():
            raise RuntimeError(f"{path} is missing: build first (swift build)")
        return path

    def start(self, taken, sandbox_port, smtp_port, base_port=None):
        runtime = self.workdir / "nginx"
        shutil.rmtree(runtime, ignore_errors=True)
        (runtime / "tmp").mkdir(parents=True)
        logdir = self.workdir / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        ca = make_certificate(runtime / "tls")
        if os.geteuid() == 0:
            shutil.chown(runtime / "tmp", "nobody", "nogroup")
        self.ca = ca
        if not self.database_url:
            max_connections = max(100, 20 + sum(self.scale.values()) * int(self.env.get("DATABASE_MAX_CONNECTIONS", "10")))
            result = subprocess.run([str(ROOT / "scripts/pg.sh"), "start", str(self.workdir / "pg"), str(self.pg_port),
                                     "-c", f"max_connections={max_connections}"], capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}")
            self.database_url = result.stdout.strip().splitlines()[-1]
            self.started_pg = True
        sandbox_url = f"http://{LOOPBACK}:{sandbox_port}"
        self.env.update({
            "FLOWTALK_ENV_FILE": "/nonexistent", "HOST": LOOPBACK, "DATABASE_URL": self.database_url,
            "PUBLIC_URL": self.public_url, "ANALYTICS_URL": self.public_url, "COOKIE_SECURE": "true", "TRUSTED_PROXIES": LOOPBACK,
            "DASHBOARD_DIR": str(ROOT / "Services/Dashboard"), "INSTAGRAM_GRAPH_URL": sandbox_url, "INSTAGRAM_OAUTH_URL": sandbox_url,
            "INSTAGRAM_API_URL": sandbox_url, "GROQ_BASE_URL": f"{sandbox_url}/openai/v1", "SMTP_URL": f"smtp://{LOOPBACK}:{smtp_port}?tls=none",
            "SANDBOX_SMTP_PORT": str(smtp_port), "INGEST_URL": self.public_url, "SANDBOX_CA_FILE": str(ca)})
        self.env.setdefault("GROQ_API_KEY", "sandbox-groq-key")
        self.sandbox = Replica("sandbox", 1, self.binary("sandbox"), self.env, sandbox_port, free_port(taken), logdir)
        self.sandbox.start()
        ports = {}
        for service in SERVICES:
            ports[service] = []
            for index in range(1, self.scale[service] + 1):
                if base_port:
                    port = base_port + 100 * (SERVICES.index(service) + 1) + index
                    metrics = port + 50
                else:
                    port, metrics = free_port(taken), free_port(taken)
                ports[service].append(port)
                self.replicas.append(Replica(service, index, self.binary(service), self.env, port, metrics, logdir))
        # One replica of auth migrates first; the rest start once the schema is there (they would wait for it anyway).
        first = self.replicas[0]
        first.start()
        wait_ready([first], 180, self.log)
        for replica in self.replicas[1:]:
            replica.start()
        wait_ready(self.replicas + [self.sandbox], 180, self.log)
        (runtime / "nginx.conf").write_text(nginx_config(runtime, self.https_port, ports))
        # nginx writes its own error.log (-e): nothing is left open here.
        self.nginx = subprocess.Popen(["nginx", "-e", str(runtime / "error.log"), "-p", str(runtime), "-c", str(runtime / "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while not https_ready(self.https_port, ca):
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(runtime / 'error.log').read_text()[-500:]}")
            time.sleep(0.2)
        self.supervisor = threading.Thread(target=self.supervise, daemon=True)
        self.supervisor.start()

    def supervise(self):
        while not self.stopping.wait(0.2):
            for replica in self.replicas + [self.sandbox]:
                if replica.popen is not None and not replica.alive() and not self.stopping.is_set():
                    replica.exits.append(replica.popen.returncode)
                    self.log(f"{replica.name} exited ({replica.popen.returncode}); starting it again in {RESTART_DELAY:g} s")
                    time.sleep(RESTART_DELAY)
                    if not self.stopping.is_set():
                        replica.start()

    def by_service(self, service):
        return [r for r in self.replicas if r.service == service]

    def stop(self):
        self.stopping.set()
        if self.supervisor:
            self.supervisor.join(timeout=5)
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for replica in self.replicas + ([self.sandbox] if self.sandbox else []):
            try:
                replica.stop()
            except Exception:  # noqa: BLE001 - every other process must still stop
                pass
        if self.started_pg:
            subprocess.run([str(ROOT / "scripts/pg.sh"), "stop", str(self.workdir / "pg")], capture_output=True, timeout=120)


def http_ready(port):
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/readyz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def https_ready(port, ca):
    import ssl
    import urllib.request
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(f"https://{LOOPBACK}:{port}/readyz", timeout=2, context=context) as answer:
            return answer.status == 200
    except OSError:
        return False


def wait_ready(replicas, seconds, log):
    deadline = time.monotonic() + seconds
    waiting = list(replicas)
    while waiting:
        waiting = [r for r in waiting if not http_ready(r.port)]
        for replica in waiting:
            if not replica.alive():
                raise RuntimeError(f"{replica.name} exited with status {replica.popen.returncode}; see {replica.logpath}")
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"not ready within {seconds} s: {', '.join(r.name for r in waiting)}")
        if waiting:
            time.sleep(0.3)
