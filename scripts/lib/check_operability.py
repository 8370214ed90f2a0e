#!/usr/bin/env python3
"""The operator-facing files checked against each other, the Kubernetes API and havpn's code.

Run by scripts/check-operability (which installs kubernetes-validate and promtool first) from the repository root.
Prints one line per check and a summary; exits 1 when any check failed.

  manifests   every object in examples/kubernetes/*.yaml and examples/kubernetes/non-ha/*.yaml (single mode) and
              every patch in examples/kubernetes/patches/, merged onto a minimal object, passes
              `kubernetes-validate --strict` for KUBERNETES_VERSION;
  pods        every container has CPU and memory requests and a memory limit, every pod runs seccomp RuntimeDefault,
              only kubelet-safe pod sysctls, privileged only in init containers, every mount names a volume of its
              pod, no readiness probe on the side-cars of the kube-apiserver pod;
  topology    per set (HA, non-ha/): the seed's and the shoot's havpn-topology ConfigMaps carry the same topology, which the schema (and
              `havpn validate`, when a built binary is at hand) accepts; every mounted ConfigMap exists in the
              pod's namespace; the shoot NetworkPolicy's ipBlocks are the topology's shoot networks;
  schema      every example topology has a yaml-language-server modeline naming the schema's $id;
  rules       `promtool check rules`, `promtool test rules`, and `promtool check config` of the scrape job;
  dashboard   the Grafana dashboard parses as JSON, has a uid and unique panel ids, every panel has a query;
  metrics     every metric a dashboard query or an alert rule names is one havpn's code exports, and every
              announcement rejection `reason` they name is one the code has.
"""
import copy
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = os.environ.get("HAVPN_KUBERNETES_VERSION", "1.31")
KUBE = ROOT / "examples" / "kubernetes"
MONITORING = ROOT / "examples" / "monitoring"
SCHEMA = ROOT / "schemas" / "topology.v1.schema.json"

# The kubelet's default safe sysctls (kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster, 1.31).
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
# Containers that may lack resources for now, with the reason. Keep this empty once the reason is gone.
PENDING: dict = {}
# The patches' targets: the smallest objects Gardener's would have in common with them.
PATCH_BASES = {
    ("Deployment", "kube-apiserver"): {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kube-apiserver", "namespace": "shoot--project--name"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "kubernetes", "role": "apiserver"}},
            "template": {
                "metadata": {"labels": {"app": "kubernetes", "role": "apiserver"}},
                "spec": {
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                                        "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0 0"}]},
                    "containers": [{
                        "name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.31.0",
                        "command": ["/usr/local/bin/kube-apiserver"],
                        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 443, "scheme": "HTTPS"}},
                    }],
                },
            },
        },
    },
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}

results = []


def check(name, problems):
    """Records one check: passes when `problems` is empty."""
    problems = list(problems)
    results.append((name, problems))
    print(f"{'ok  ' if not problems else 'FAIL'} {name}")
    for problem in problems:
        print(f"       {problem}")


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def load_all(path):
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def merge(base, patch):
    """A strategic merge as far as these patches need it: maps merge, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(item, dict) and "name" in item for item in base + patch)):
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            index = next((i for i, old in enumerate(out) if old["name"] == item["name"]), None)
            if index is None:
                out.append(copy.deepcopy(item))
            else:
                out[index] = merge(out[index], item)
        return out
    return copy.deepcopy(patch)


# ---------------------------------------------------------------------------------------------------- manifests

# Two sets of manifests, each complete on its own: HA (examples/kubernetes/) and single mode (non-ha/).
SETS = {"ha": KUBE, "non-ha": KUBE / "non-ha"}
manifest_files = [path for directory in SETS.values() for path in sorted(directory.glob("*.yaml"))]


def set_of(path):
    """The set a manifest belongs to: its directory's, or for a patch (patches/) its parent's."""
    for directory in (path.parent, path.parent.parent):
        for name, root in SETS.items():
            if directory == root:
                return name
    raise ValueError(f"{path} is in no manifest set")

patch_files = sorted((KUBE / "patches").glob("*.yaml"))
objects = []        # (file, object) of every manifest, patches merged onto their base
for path in manifest_files:
    objects += [(path, d) for d in load_all(path)]

with tempfile.TemporaryDirectory() as scratch:
    merged_files = []
    problems = []
    for path in patch_files:
        for patch in load_all(path):
            base = PATCH_BASES.get((patch.get("kind"), patch.get("metadata", {}).get("name")))
            if base is None:
                problems.append(f"{path.name}: no base object for {patch.get('kind')}/{patch.get('metadata', {}).get('name')}")
                continue
            merged = merge(base, patch)
            objects.append((path, merged))
            out = pathlib.Path(scratch) / f"merged-{path.name}"
            out.write_text(yaml.safe_dump(merged), encoding="utf-8")
            merged_files.append(out)
    check("patches have a base object", problems)
    files = [str(p) for p in manifest_files] + [str(p) for p in merged_files]
    result = run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", KUBERNETES_VERSION] + files)
    check(f"kubernetes-validate --strict -k {KUBERNETES_VERSION}: {len(manifest_files)} manifests, {len(merged_files)} merged patches",
          [] if result.returncode == 0 else (result.stdout + result.stderr).strip().splitlines())

# --------------------------------------------------------------------------------------------------------- pods


def pod_templates():
    for path, obj in objects:
        if obj.get("kind") in WORKLOAD_KINDS:
            yield path, obj, obj["spec"]["template"]


problems = []
for path, obj, template in pod_templates():
    name = obj["metadata"]["name"]
    spec = template["spec"]
    pod_security = spec.get("securityContext", {})
    for sysctl in pod_security.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"{path.name}: {name}: pod sysctl {sysctl['name']} is not kubelet-safe (use a privileged init container)")
    pod_seccomp = pod_security.get("seccompProfile", {}).get("type")
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind, []):
            where = f"{path.name}: {name}/{container['name']}"
            security = container.get("securityContext", {})
            privileged = security.get("privileged", False)
            if privileged and kind == "containers":
                problems.append(f"{where}: a long-running container is privileged")
            seccomp = security.get("seccompProfile", {}).get("type", pod_seccomp)
            if seccomp != "RuntimeDefault" and not privileged:
                problems.append(f"{where}: seccompProfile is {seccomp or 'unset'}, not RuntimeDefault")
            volumes = {volume["name"] for volume in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problems.append(f"{where}: mounts {mount['name']}, which is not a volume of the pod")
            if (name, container["name"]) in PENDING:
                continue
            resources = container.get("resources", {})
            for key in ("cpu", "memory"):
                if key not in resources.get("requests", {}):
                    problems.append(f"{where}: no {key} request")
            if "memory" not in resources.get("limits", {}):
                problems.append(f"{where}: no memory limit")
    if name == "kube-apiserver":
        for container in spec.get("containers", []):
            probe = container.get("readinessProbe", {})
            if container["name"] != "kube-apiserver" and probe:
                problems.append(f"{path.name}: {name}/{container['name']}: a readiness probe in the kube-apiserver pod "
                                "gates the API server on the shoot (vpn-shoot is deployed through it)")
check("pods: resources, seccomp RuntimeDefault, safe sysctls, privileges, mounts, no readiness gate on the shoot", problems)
for (pod, container), reason in PENDING.items():
    print(f"       (pending: {pod}/{container} has no resources: {reason})")

# ----------------------------------------------------------------------------------------------------- topology

schema_id = json.loads(SCHEMA.read_text(encoding="utf-8"))["$id"]
modeline = f"# yaml-language-server: $schema={schema_id}"
configmaps = {(set_of(path), obj["metadata"]["namespace"], obj["metadata"]["name"]): (path, obj)
              for path, obj in objects if obj.get("kind") == "ConfigMap"}
topologies = {key: obj["data"]["topology.yaml"] for key, (path, obj) in configmaps.items()
              if obj["metadata"]["name"] == "havpn-topology"}
problems = []
for name in SETS:
    in_set = {key: text for key, text in topologies.items() if key[0] == name}
    if len(in_set) != 2:
        problems.append(f"{name}: expected the ConfigMap havpn-topology in two namespaces (seed, shoot), found {sorted(in_set)}")
    if len(set(in_set.values())) > 1:
        problems.append(f"{name}: the havpn-topology ConfigMaps differ: seed and shoot must derive the same address plan")
for key, text in topologies.items():
    if not text.startswith(modeline + "\n"):
        problems.append(f"{key[0]}: {key[1]}/{key[2]}: topology.yaml does not start with `{modeline}`")
check("topology ConfigMaps: one per cluster and set, identical, with the schema modeline", problems)

problems = []
for path, obj, template in pod_templates():
    namespace = obj["metadata"]["namespace"]
    for volume in template["spec"].get("volumes", []):
        if "configMap" in volume and (set_of(path), namespace, volume["configMap"]["name"]) not in configmaps:
            problems.append(f"{path.name}: {obj['metadata']['name']} mounts ConfigMap {volume['configMap']['name']}, "
                            f"which no manifest creates in {namespace}")
check("every mounted ConfigMap exists in the pod's namespace", problems)

havpn = os.environ.get("HAVPN") or str(ROOT / ".build" / "debug" / "havpn")
with tempfile.TemporaryDirectory() as scratch:
    files = []
    for (set_name, namespace, name), text in sorted(topologies.items()):
        out = pathlib.Path(scratch) / f"{set_name}-{namespace}-{name}.yaml"
        out.write_text(text, encoding="utf-8")
        files.append(str(out))
    result = run([sys.executable, str(ROOT / "scripts" / "check-schema.py")] + files)
    check("the embedded topologies satisfy the schema",
          [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("accept ")]
          + ([] if result.returncode == 0 else [f"check-schema.py exited {result.returncode}"]))
    if os.access(havpn, os.X_OK):
        problems = []
        for file in files:
            result = run([havpn, "validate", "-f", file])
            if result.returncode != 0:
                problems.append((result.stdout + result.stderr).strip())
        shown = os.path.relpath(havpn, ROOT) if havpn.startswith(str(ROOT) + os.sep) else havpn
        check(f"the embedded topologies pass `havpn validate` ({shown})", problems)
    else:
        print(f"skip havpn validate of the embedded topologies (no binary at {havpn}; set HAVPN)")

problems = []
shoot_networks = {name: set() for name in SETS}
for (set_name, _, _), text in topologies.items():
    networks = (yaml.safe_load(text).get("networks") or {}).get("shoot") or {}
    # the defaults of an omitted key are vpn2's (README); the examples give all three
    for key in ("pods", "services", "nodes"):
        shoot_networks[set_name] |= set(networks.get(key, []))
for path, obj in objects:
    if obj.get("kind") == "NetworkPolicy" and obj["metadata"]["namespace"] == "kube-system":
        blocks = {peer["ipBlock"]["cidr"] for rule in obj["spec"].get("egress", [])
                  for peer in rule.get("to", []) if "ipBlock" in peer}
        if blocks != shoot_networks[set_of(path)]:
            problems.append(f"{path.name}: {obj['metadata']['name']}: egress ipBlocks {sorted(blocks)} are not the "
                            f"topology's shoot networks {sorted(shoot_networks[set_of(path)])}")
check("the shoot NetworkPolicy lets vpn-shoot reach exactly the topology's shoot networks", problems)

# ------------------------------------------------------------------------------------------------------- schema

problems = []
if not schema_id.startswith("https://raw.githubusercontent.com/"):
    problems.append(f"the schema's $id {schema_id} does not serve the raw file")
for path in sorted((ROOT / "examples").glob("*.yaml")):
    if modeline not in path.read_text(encoding="utf-8").splitlines():
        problems.append(f"{path.relative_to(ROOT)}: no `{modeline}`")
check("example topologies name the schema's $id in a yaml-language-server modeline", problems)

# -------------------------------------------------------------------------------------------------------- rules

rules_file = MONITORING / "havpn-alerts.yaml"
result = run(["promtool", "check", "rules", str(rules_file)])
check("promtool check rules havpn-alerts.yaml", [] if result.returncode == 0 else (result.stdout + result.stderr).splitlines())
result = run(["promtool", "test", "rules", "havpn-alerts.test.yaml"], cwd=MONITORING)
check("promtool test rules havpn-alerts.test.yaml", [] if result.returncode == 0 else (result.stdout + result.stderr).splitlines())
# Debian's promtool is built without the Kubernetes service discovery: the job is checked with its
# kubernetes_sd_configs swapped for a static target (relabelling, rule files and the rest as written).
config = yaml.safe_load((MONITORING / "prometheus.yaml").read_text(encoding="utf-8"))
for job in config.get("scrape_configs", []):
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["localhost:8080"]}]
config["rule_files"] = [str(MONITORING / name) for name in config.get("rule_files", [])]
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as out:
    yaml.safe_dump(config, out)
result = run(["promtool", "check", "config", out.name])
os.unlink(out.name)
check("promtool check config prometheus.yaml (Kubernetes SD as a static target)",
      [] if result.returncode == 0 else (result.stdout + result.stderr).splitlines())

# ---------------------------------------------------------------------------------------------------- dashboard

problems = []
queries = []        # (where, PromQL)
try:
    dashboard = json.loads((MONITORING / "havpn-dashboard.json").read_text(encoding="utf-8"))
except ValueError as error:
    dashboard = {}
    problems.append(f"havpn-dashboard.json: {error}")
for panel in dashboard.get("panels", []):
    if panel.get("type") == "row":
        continue
    targets = [t.get("expr", "") for t in panel.get("targets", [])]
    if not targets or not all(targets):
        problems.append(f"panel {panel.get('title')!r} has no query")
    queries += [(f"dashboard panel {panel.get('title')!r}", expr) for expr in targets]
for variable in dashboard.get("templating", {}).get("list", []):
    if variable.get("type") == "query":
        query = variable.get("query")
        queries.append((f"dashboard variable ${variable['name']}", query.get("query") if isinstance(query, dict) else query))
ids = [panel.get("id") for panel in dashboard.get("panels", [])]
if len(ids) != len(set(ids)):
    problems.append("havpn-dashboard.json: panel ids are not unique")
if not dashboard.get("uid"):
    problems.append("havpn-dashboard.json: no uid")
if len(queries) < 20:
    problems.append(f"only {len(queries)} dashboard queries found")
check("havpn-dashboard.json parses, has a uid, unique panel ids and a query in every panel", problems)
for group in yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"]:
    for rule in group["rules"]:
        queries.append((f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])))

# ------------------------------------------------------------------------------------------------------ metrics

sources = list((ROOT / "Sources").rglob("*.swift"))
source_text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
exported = set(re.findall(r'"((?:havpn|process)_[a-z0-9_]+)"', source_text))  # process_*: ProcessMetrics.swift
rejection_cases = set()
enum = re.search(r"enum AnnouncementRejection\b[^{]*\{(.*?)\n\}", source_text, re.S)
if enum:
    rejection_cases = set(re.findall(r"^\s*case\s+(\w+)", enum.group(1), re.M))

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan", "le"}


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or label names."""
    text = re.sub(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", r"\1", expr)  # Grafana: label_values(series, label)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)                    # strings
    text = re.sub(r"\{[^}]*\}", "", text)                              # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                             # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        if match.group(2) or match.group(1) in KEYWORDS:
            continue
        names.add(match.group(1))
    return names


def exported_name(name):
    if name in exported:
        return True
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base != name and base in exported


problems = []
if len(exported) < 10:
    problems.append(f"found only {len(exported)} metric names in Sources/: the extraction is broken")
if not rejection_cases:
    problems.append("enum AnnouncementRejection not found in Sources/")
named = set()
for where, expr in queries:
    names = metric_names(expr)
    if not names:
        problems.append(f"{where}: names no metric: {expr}")
    for name in sorted(names):
        named.add(name)
        if not exported_name(name):
            problems.append(f"{where}: {name} is not a metric havpn exports")
    for matcher in re.finditer(r'\breason\s*(=~|!~|=|!=)\s*"([^"]*)"', expr):
        for reason in matcher.group(2).split("|"):
            if reason not in rejection_cases:
                problems.append(f"{where}: reason {reason!r} is not an AnnouncementRejection case")
unused = sorted(n for n in exported if not any(m == n or re.sub(r"_(bucket|sum|count)$", "", m) == n for m in named))
check(f"{len(queries)} queries name only metrics havpn exports ({len(exported) - len(unused)} of its {len(exported)} metrics used)",
      problems)
if unused:
    print(f"       (not on the dashboard or in a rule: {', '.join(unused)})")

failed = sum(1 for _, problems in results if problems)
print(f"operability: {failed} of {len(results)} checks failed" if failed else f"operability: all {len(results)} checks passed")
sys.exit(1 if failed else 0)
