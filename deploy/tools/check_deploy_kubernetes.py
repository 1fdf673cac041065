"""Checks of the Kubernetes manifests (deploy/kubernetes) and of checkov's skips there and in the Dockerfile: see
check_deploy.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# The sibling modules import each other by name, however this file is reached (script, -m, or an import).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from check_deploy_common import DEPLOY, FLOWTALK, check_production, check_variables, fail, readme_configuration, readme_ports


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
                     "/api/activity": "flowtalk-analytics", "/api/conversations": "flowtalk-analytics", "/": "flowtalk-auth"}
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


# --- kustomization.yaml, checkov skips ------------------------------------------------------------------------------

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
