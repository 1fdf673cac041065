"""Checks of deploy/ that need Python (run by scripts/check-deploy.sh, which also runs the external validators).

    python deploy/tools/check_deploy.py CHECK [CHECK ...]      (from the repository root)

Checks: compose, kubernetes, systemd-env, kustomization, skips, metrics, grafana-promql FILE, nginx-routes.
Each prints one line per finding ("FAIL ...") and exits 1 if any; `metrics` and `grafana-promql` write what the shell
script hands to promtool. Environment: CHECK_DEPLOY_README overrides README.md (for trying a README change).

This file is the runner; the checks are in check_deploy_kubernetes.py (manifests, kustomization, checkov skips) and
check_deploy_services.py (compose, nginx, systemd, metrics, Grafana), what they share in check_deploy_common.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The sibling modules import each other by name, however this file is reached (script, -m, or an import).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

# No __pycache__ beside the sources (the repository does not ignore it).
sys.dont_write_bytecode = True

import check_deploy_common  # noqa: E402
from check_deploy_kubernetes import check_kubernetes, check_kustomization, check_skips  # noqa: E402
from check_deploy_services import (  # noqa: E402
    check_compose, check_metrics, check_nginx_routes, check_systemd_env, write_grafana_rules,
)


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
    return 1 if check_deploy_common.failures else 0


if __name__ == "__main__":
    sys.exit(main())
