"""What the checks of deploy/ share (see check_deploy.py): paths, the findings, README's configuration table, and the
rules every deployment's environment must follow (compose, Kubernetes and systemd alike)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path.cwd()
README = Path(os.environ.get("CHECK_DEPLOY_README", ROOT / "README.md"))
DEPLOY = ROOT / "deploy"
FLOWTALK = ("auth", "ingest", "dispatch", "analytics")
# "all" in README's table: the four services and flowtalk-admin (it reads the common configuration); not the sandbox.
ALL = set(FLOWTALK) | {"admin"}
KNOWN = ALL | {"sandbox", "dev"}
# Read by the Swift runtime, not by Flowtalk: allowed without a README row.
RUNTIME_VARIABLES = {"SWIFT_BACKTRACE"}

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
