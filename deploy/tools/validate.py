#!/usr/bin/env python3
"""Offline validation of everything under deploy/ (run by deploy/validate.sh).

 1. renders each overlay with deploy/tools/render.py and, when a kubectl with
    kustomize is on PATH, checks that `kubectl kustomize` renders the same
    objects;
 2. validates every rendered object, and the Secret templates, against the
    Kubernetes JSON schemas bundled in kubernetes-validate (strict: unknown
    fields are errors), for Kubernetes KUBE_VERSION (default 1.30.0);
 3. checks the deployment rules these manifests promise (non-root,
    read-only root filesystem, no capabilities, probes on the admin port,
    Strapi on loopback, only the gateway port in the sidecar Service,
    selectors that match, ConfigMaps and Secrets that exist);
 4. runs `portcullis check` on deploy/config/gateway.yaml and on the exact
    /etc/portcullis tree each overlay's Pods mount, with the environment the
    Deployment gives the container;
 5. checks the Grafana dashboard (valid JSON, only metrics of the contract in
    docs/deployment.md) and the paths the Dockerfile copies.

Usage: validate.py PORTCULLIS_BINARY OUT_DIR
Exit status 0 when everything passed, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render  # noqa: E402

import kubernetes_validate  # noqa: E402
from kubernetes_validate.utils import SchemaNotFoundError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ["sidecar", "ingress"]
KUBE_VERSION = os.environ.get("KUBE_VERSION", "1.30.0")
METRICS = {
    "portcullis_requests_total",
    "portcullis_decision_duration_seconds",
    "portcullis_upstream_duration_seconds",
    "portcullis_cache_requests_total",
    "portcullis_redis_errors_total",
    "portcullis_store_errors_total",
    "portcullis_logins_total",
    "portcullis_rate_limited_total",
    "portcullis_policy_reloads_total",
    "portcullis_policy_info",
    "portcullis_build_info",
}
# Secrets the manifests reference but never apply (templates in deploy/).
SECRET_TEMPLATES = {
    "portcullis-secrets": DEPLOY / "k8s/base/secret.example.yaml",
    "strapi-secrets": DEPLOY / "k8s/overlays/sidecar/strapi-secret.example.yaml",
}
# Placeholder values used for the Secret keys when running `portcullis check`.
FAKE_SECRETS = {
    "JWT_SECRET": "validate-jwt-secret",
    "API_TOKEN_SALT": "validate-salt",
    "UPSTREAM_TOKEN": "validate-upstream-token",
    "DATABASE_URL": "postgres://portcullis:secret@postgres:5432/portcullis",
}

failures: list[str] = []
passes = 0


def ok(msg: str) -> None:
    global passes
    passes += 1
    print(f"ok    {msg}")


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL  {msg}")


def check(cond: bool, msg: str, why: str = "") -> None:
    if cond:
        ok(msg)
    else:
        fail(f"{msg}{': ' + why if why else ''}")


def name(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


# --------------------------------------------------------------------------
# 1. render
# --------------------------------------------------------------------------

def canonical(objs: list[dict]) -> dict:
    return {(o["apiVersion"], o["kind"], o["metadata"]["name"]): o for o in objs}


def render_overlay(overlay: str, out_dir: Path) -> list[dict]:
    path = DEPLOY / "k8s/overlays" / overlay
    try:
        objs = render.render(path)
    except render.RenderError as e:
        fail(f"render {overlay}: {e}")
        return []
    (out_dir / f"{overlay}.yaml").write_text(render.dump(objs), encoding="utf-8")
    ok(f"render {overlay}: {len(objs)} objects -> {out_dir.relative_to(ROOT)}/{overlay}.yaml")
    kubectl = shutil.which("kubectl")
    if kubectl and os.environ.get("VALIDATE_NO_KUBECTL") != "1":
        try:
            proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"skip  kubectl kustomize {overlay}: {e}")
            return objs
        if proc.returncode != 0:
            fail(f"kubectl kustomize {overlay}: {proc.stderr.strip()}")
        else:
            theirs = canonical([d for d in yaml.safe_load_all(proc.stdout) if d])
            mine = canonical(objs)
            if theirs == mine:
                ok(f"kubectl kustomize {overlay} renders the same {len(mine)} objects")
            else:
                only_mine = sorted(set(mine) - set(theirs))
                only_theirs = sorted(set(theirs) - set(mine))
                differ = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
                fail(f"kubectl kustomize {overlay} differs: only render.py {only_mine}, "
                     f"only kubectl {only_theirs}, different {differ}")
    else:
        print(f"skip  kubectl kustomize {overlay}: no kubectl on PATH (render.py output is used)")
    return objs


# --------------------------------------------------------------------------
# 2. schemas
# --------------------------------------------------------------------------

def validate_schema(obj: dict, where: str) -> None:
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        ok(f"schema {KUBE_VERSION} strict: {where} {name(obj)}")
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        fail(f"schema {KUBE_VERSION}: {where} {name(obj)}: {path}: {e.message}")
    except SchemaNotFoundError as e:
        fail(f"schema: {where} {name(obj)}: {e.message}")


# --------------------------------------------------------------------------
# 3. deployment rules
# --------------------------------------------------------------------------

def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def selector_matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}


def probe_path_port(probe: dict | None) -> tuple[str, object] | None:
    if not probe or "httpGet" not in probe:
        return None
    return probe["httpGet"].get("path"), probe["httpGet"].get("port")


def check_rules(overlay: str, objs: list[dict]) -> None:
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    config_maps = {o["metadata"]["name"] for o in by_kind.get("ConfigMap", [])}
    deployments = by_kind.get("Deployment", [])
    gateway = [d for d in deployments
               if any(c["name"] == "portcullis" for c in pod_spec(d)["containers"])]
    check(len(gateway) == 1, f"{overlay}: one Deployment runs the portcullis container")

    for d in deployments:
        spec = pod_spec(d)
        psc = spec.get("securityContext") or {}
        check(psc.get("runAsNonRoot") is True, f"{overlay}: {name(d)} pod runAsNonRoot")
        check(spec.get("automountServiceAccountToken") is False,
              f"{overlay}: {name(d)} does not mount a service account token")
        for c in spec["containers"]:
            sc = c.get("securityContext") or {}
            who = f"{overlay}: {name(d)} container {c['name']}"
            check(sc.get("readOnlyRootFilesystem") is True, f"{who} readOnlyRootFilesystem")
            check(sc.get("allowPrivilegeEscalation") is False, f"{who} no privilege escalation")
            check((sc.get("capabilities") or {}).get("drop") == ["ALL"], f"{who} drops ALL capabilities")
            check(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{who} runAsNonRoot")
            res = c.get("resources") or {}
            check(bool((res.get("requests") or {}).get("cpu")) and bool((res.get("requests") or {}).get("memory"))
                  and bool((res.get("limits") or {}).get("memory")),
                  f"{who} has cpu/memory requests and a memory limit")
            check(c.get("readinessProbe") is not None or c.get("livenessProbe") is not None,
                  f"{who} has probes")
        # every ConfigMap / Secret the Pod needs exists (or is a known template)
        for vol in spec.get("volumes") or []:
            if "configMap" in vol:
                check(vol["configMap"]["name"] in config_maps,
                      f"{overlay}: {name(d)} volume {vol['name']} -> ConfigMap {vol['configMap']['name']} is rendered")
        for c in spec["containers"]:
            for ef in c.get("envFrom") or []:
                if "secretRef" in ef:
                    check(ef["secretRef"]["name"] in SECRET_TEMPLATES,
                          f"{overlay}: {name(d)} Secret {ef['secretRef']['name']} has a template in deploy/")

    for d in gateway:
        spec = pod_spec(d)
        gw = next(c for c in spec["containers"] if c["name"] == "portcullis")
        ports = {p["name"]: p["containerPort"] for p in gw.get("ports") or []}
        check(ports == {"http": 8080, "admin": 9091}, f"{overlay}: portcullis ports http 8080 and admin 9091",
              str(ports))
        check(probe_path_port(gw.get("readinessProbe")) == ("/readyz", "admin"),
              f"{overlay}: portcullis readinessProbe GET /readyz on the admin port")
        check(probe_path_port(gw.get("livenessProbe")) == ("/healthz", "admin"),
              f"{overlay}: portcullis livenessProbe GET /healthz on the admin port")
        sc = gw.get("securityContext") or {}
        check(sc.get("runAsUser") == 10001, f"{overlay}: portcullis runs as uid 10001 (the image's user)")
        check(gw.get("args") == ["serve", "--config", "/etc/portcullis/gateway.yaml"],
              f"{overlay}: portcullis serve --config /etc/portcullis/gateway.yaml")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(grace > 25 + 5, f"{overlay}: terminationGracePeriodSeconds {grace} > shutdown_timeout 25s + preStop 5s")

    services = by_kind.get("Service", [])
    for s in services:
        targets = [d for d in deployments
                   if selector_matches(s["spec"].get("selector") or {}, d["spec"]["template"]["metadata"]["labels"])]
        if s["metadata"]["name"] == "strapi":
            check(not targets, f"{overlay}: Service strapi selects the operator's Strapi Pods, not ours")
            check(s["spec"].get("type", "ClusterIP") == "ClusterIP", f"{overlay}: Service strapi is ClusterIP")
            continue
        check(len(targets) == 1, f"{overlay}: {name(s)} selects exactly one of the Deployments")
        check(s["spec"].get("type", "ClusterIP") == "ClusterIP", f"{overlay}: {name(s)} is ClusterIP")
    portcullis_svc = [s for s in services if s["metadata"]["name"] == "portcullis"]
    check(len(portcullis_svc) == 1 and [p.get("targetPort") for p in portcullis_svc[0]["spec"]["ports"]] == ["http"],
          f"{overlay}: Service portcullis exposes only the gateway's http port")

    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"].get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = p["backend"]["service"]
                target = [s for s in services if s["metadata"]["name"] == svc["name"]]
                check(svc["name"] == "portcullis", f"{overlay}: {name(ing)} routes only to portcullis")
                check(bool(target) and any(sp.get("name") == svc["port"].get("name") for sp in target[0]["spec"]["ports"]),
                      f"{overlay}: {name(ing)} backend port {svc['port']} exists on Service {svc['name']}")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        check(any(d["metadata"]["name"] == ref["name"] for d in deployments),
              f"{overlay}: {name(hpa)} targets Deployment {ref['name']}")
        check(hpa["spec"].get("minReplicas", 1) >= 2, f"{overlay}: {name(hpa)} keeps at least 2 replicas")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"]["matchLabels"]
        targets = [d for d in deployments if selector_matches(sel, d["spec"]["template"]["metadata"]["labels"])]
        check(len(targets) == 1, f"{overlay}: {name(pdb)} selects one Deployment")
        if targets and "minAvailable" in pdb["spec"]:
            hpa_min = min([h["spec"].get("minReplicas", 1) for h in by_kind.get("HorizontalPodAutoscaler", [])]
                          or [targets[0]["spec"].get("replicas", 1)])
            check(pdb["spec"]["minAvailable"] < hpa_min,
                  f"{overlay}: {name(pdb)} minAvailable {pdb['spec']['minAvailable']} < min replicas {hpa_min} (drains can proceed)")

    if overlay == "sidecar":
        d = gateway[0] if gateway else None
        strapi = [c for c in pod_spec(d)["containers"] if c["name"] == "strapi"] if d else []
        check(len(strapi) == 1, "sidecar: Strapi runs in the same Pod")
        if strapi:
            check(env_of(strapi[0]).get("HOST") == "127.0.0.1", "sidecar: Strapi is bound to 127.0.0.1 (HOST)")
            check(not strapi[0].get("ports"), "sidecar: Strapi declares no containerPort")
    if overlay == "ingress":
        gw = next(c for c in pod_spec(gateway[0])["containers"] if c["name"] == "portcullis") if gateway else {}
        check(bool(env_of(gw).get("REDIS_URL")), "ingress: REDIS_URL is set for the replicas")
        check(gateway and gateway[0]["spec"].get("replicas") == 3, "ingress: 3 replicas")


# --------------------------------------------------------------------------
# 4. portcullis check
# --------------------------------------------------------------------------

def run_check(binary: Path, config: Path, env: dict[str, str], what: str) -> None:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.run([str(binary), "check", "--config", str(config)], capture_output=True, text=True,
                          env={**base, **env}, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    lines = out.splitlines()
    check(proc.returncode == 0, f"portcullis check {what}: {lines[-1] if lines else ''}",
          out if len(lines) > 1 else "")


def check_mounted_config(binary: Path, overlay: str, objs: list[dict], out_dir: Path) -> None:
    """Lay out /etc/portcullis as the Pod sees it and check it with the
    Pod's environment."""
    gateway = [o for o in objs if o["kind"] == "Deployment"
               and any(c["name"] == "portcullis" for c in pod_spec(o)["containers"])]
    if not gateway:
        return
    spec = pod_spec(gateway[0])
    c = next(c for c in spec["containers"] if c["name"] == "portcullis")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    cms = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    etc = out_dir / f"{overlay}-etc"
    shutil.rmtree(etc, ignore_errors=True)
    config_path = None
    for m in c.get("volumeMounts") or []:
        cm_name = (volumes.get(m["name"]) or {}).get("configMap", {}).get("name")
        if not cm_name or not m["mountPath"].startswith("/etc/portcullis"):
            continue
        data = cms[cm_name].get("data") or {}
        target = etc / m["mountPath"][len("/etc/portcullis"):].lstrip("/")
        if m.get("subPath"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[m["subPath"]], encoding="utf-8")
        else:
            target.mkdir(parents=True, exist_ok=True)
            for key, text in data.items():
                (target / key).write_text(text, encoding="utf-8")
    config_path = etc / "gateway.yaml"
    if not config_path.is_file():
        fail(f"{overlay}: nothing is mounted at /etc/portcullis/gateway.yaml")
        return
    env = dict(env_of(c))
    template = yaml.safe_load(SECRET_TEMPLATES["portcullis-secrets"].read_text(encoding="utf-8"))
    for key in template["stringData"]:
        env[key] = FAKE_SECRETS.get(key, f"validate-{key.lower()}")
    if overlay == "sidecar":
        # The template's DATABASE_URL is optional here: empty means SQLite.
        env["DATABASE_URL"] = ""
    run_check(binary, config_path, env, f"{overlay} Pod's /etc/portcullis (env: {', '.join(sorted(env))})")
    # Fail closed: the Secret template's empty values must stop the gateway
    # (an empty JWT_SECRET passes `check` and stops `serve`, by design).
    for key in ("UPSTREAM_TOKEN",) + (("DATABASE_URL",) if overlay == "ingress" else ()):
        empty = {**env, key: ""}
        proc = subprocess.run([str(binary), "check", "--config", str(config_path)], capture_output=True,
                              text=True, env={"PATH": os.environ.get("PATH", ""), **empty}, timeout=60)
        check(proc.returncode != 0, f"{overlay}: an empty {key} is refused by portcullis check",
              (proc.stdout + proc.stderr).strip())


# --------------------------------------------------------------------------
# 5. dashboard, Dockerfile, config kustomization
# --------------------------------------------------------------------------

def check_dashboard() -> None:
    path = DEPLOY / "grafana/portcullis-dashboard.json"
    try:
        dash = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"dashboard: {e}")
        return
    panels = []
    stack = list(dash.get("panels") or [])
    while stack:
        p = stack.pop()
        panels.append(p)
        stack.extend(p.get("panels") or [])
    exprs = [t["expr"] for p in panels for t in p.get("targets") or [] if t.get("expr")]
    used = set()
    for e in exprs:
        used |= {m.group(0) for m in re.finditer(r"portcullis_[a-z_]+", e)}
    known = METRICS | {f"{m}_{s}" for m in METRICS for s in ("bucket", "sum", "count")}
    check(used <= known, "dashboard: every query uses a metric of the contract", str(sorted(used - known)))
    missing = {m for m in METRICS if not any(u == m or u.startswith(m + "_") for u in used)}
    check(not missing, f"dashboard: all {len(METRICS)} contract metrics are charted", str(sorted(missing)))
    ids = [p.get("id") for p in panels]
    check(len(ids) == len(set(ids)), f"dashboard: {len(panels)} panels with unique ids")
    check(bool(dash.get("uid")) and bool(dash.get("title")), "dashboard: has a uid and a title")
    doc = (ROOT / "docs/deployment.md").read_text(encoding="utf-8") if (ROOT / "docs/deployment.md").exists() else ""
    check(all(m in doc for m in METRICS), "docs/deployment.md names every contract metric")


def check_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"^COPY\s+(?!--from)(?:--\S+\s+)*(\S+)\s+\S+$", line)
        if m and m.group(1) != ".":
            check((ROOT / m.group(1)).exists(), f"Dockerfile: COPY source {m.group(1)} exists")
    check("cargo build --release -p portcullis --locked" in text, "Dockerfile: cargo build --release -p portcullis --locked")
    check(re.search(r'^ENTRYPOINT \["portcullis"\]$', text, re.M) is not None, "Dockerfile: ENTRYPOINT portcullis")
    check(re.search(r'^CMD \["serve", "--config", "/etc/portcullis/gateway.yaml"\]$', text, re.M) is not None,
          "Dockerfile: CMD serve --config /etc/portcullis/gateway.yaml")
    check(re.search(r"^EXPOSE 8080 9091$", text, re.M) is not None, "Dockerfile: EXPOSE 8080 9091")
    check(re.search(r"^ARG PORTCULLIS_UID=10001$", text, re.M) is not None
          and re.search(r"^USER \$\{PORTCULLIS_UID\}", text, re.M) is not None, "Dockerfile: USER 10001")


def check_config_kustomization() -> None:
    kust = yaml.safe_load((DEPLOY / "config/kustomization.yaml").read_text(encoding="utf-8"))
    listed = set()
    for gen in kust.get("configMapGenerator") or []:
        listed |= {f.split("=")[-1] for f in gen.get("files") or []}
    on_disk = {str(p.relative_to(DEPLOY / "config")) for p in (DEPLOY / "config/policies").glob("*.y*ml")}
    check(on_disk <= listed, "deploy/config/kustomization.yaml lists every policy file",
          f"not listed: {sorted(on_disk - listed)}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: validate.py PORTCULLIS_BINARY OUT_DIR", file=sys.stderr)
        return 2
    binary, out_dir = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    print("== portcullis check on deploy/config")
    run_check(binary, DEPLOY / "config/gateway.yaml",
              {"JWT_SECRET": "x", "API_TOKEN_SALT": "x", "UPSTREAM_TOKEN": "x"}, "deploy/config/gateway.yaml")
    check_config_kustomization()

    for overlay in OVERLAYS:
        print(f"\n== overlay {overlay}")
        objs = render_overlay(overlay, out_dir)
        if not objs:
            continue
        for o in objs:
            validate_schema(o, overlay)
        check_rules(overlay, objs)
        check_mounted_config(binary, overlay, objs, out_dir)

    print("\n== Secret templates")
    for path in SECRET_TEMPLATES.values():
        for o in render.load_documents(path):
            validate_schema(o, str(path.relative_to(ROOT)))

    print("\n== Grafana dashboard, Dockerfile")
    check_dashboard()
    check_dockerfile()

    print()
    if failures:
        print(f"{len(failures)} problem(s):")
        for f in failures:
            print(f"  - {f}")
    print(f"deploy-validate: {passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
