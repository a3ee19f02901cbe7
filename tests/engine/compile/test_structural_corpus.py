"""Hand-checked plans for real runbooks (kubevirt, prometheus-operator, gitlab).

Each expectation was written by reading the runbook: which numbered items and code blocks are
steps, what argv each command gets, which commands change the world, what the guards, jumps,
bindings and parallel groups are. A change in the compiler that changes these is a change a
user would notice.
"""

from __future__ import annotations

from pathlib import Path

from engine.compile import compile_path, parallel_groups
from engine.plan import Plan
from tests.support import corpora

CORPUS = corpora.CORPUS
KUBEVIRT = CORPUS / "kubevirt-monitoring/docs/runbooks"
PROM = CORPUS / "prometheus-operator-runbooks/content/runbooks"
GITLAB = CORPUS / "gitlab-com-runbooks/docs"
PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}

pytestmark = corpora.needs(CORPUS)  # under CI=true a missing corpus fails


def load(path: Path) -> Plan:
    return compile_path(path, known_plugins=PLUGINS)


def shape(plan: Plan) -> list[tuple[str, str, str | None, bool]]:
    return [(s.id, s.kind.value, s.plugin, s.mutating) for s in plan.steps]


def edges(plan: Plan, source: str) -> dict[str, tuple[str, str, str | None]]:
    return {e.target: (e.kind, e.on, e.condition.text if e.condition else None)
            for _, e in plan.outgoing(source)}


def test_virt_controller_down():
    plan = load(KUBEVIRT / "VirtControllerDown.md")
    assert [t.alert for t in plan.triggers] == ["VirtControllerDown"]
    assert shape(plan) == [
        ("diag-1-check-alert-labels-alert", "manual", None, False),  # "Check the alert labels"
        ("if-alert-includes-reason-label-example", "decide", None, False),
        ("diag-2-set-namespace-environment-variable", "command", "shell", False),
        ("diag-3-check-status-virt-controller", "command", "shell", False),
        ("diag-4-check-virt-controller-deployment", "command", "shell", False),
        ("diag-5-check-status-virt-controller", "command", "shell", False),
        ("diag-6-review-logs-virt-controller", "command", "shell", False),
        ("diag-6-review-logs-virt-controller-2", "command", "shell", False),
        ("diag-7-check-issues-such-nodes", "command", "shell", False),
        ("if-diagnosis-found-cause-mitigation-address", "decide", None, False),
        ("mit-1-mitigation", "manual", None, False),  # prose: identify the root cause
        ("if-issue-resolved", "decide", None, False),
        ("end-escalate", "end", None, False), ("end-no-action", "end", None, False),
        ("end-resolved", "end", None, False)]
    # step 2: `export NAMESPACE="$(kubectl get kubevirt -A \ -o custom-columns="":...)"`
    ns = plan.step("diag-2-set-namespace-environment-variable")
    assert ns.params["pipeline"] == [["kubectl", "get", "kubevirt", "-A", "-o",
                                      "custom-columns=:.metadata.namespace"]]
    assert ns.binds == {"vars.NAMESPACE": "result.stdout | trim"}
    assert plan.step("diag-5-check-status-virt-controller").params["pipeline"] == [
        ["kubectl", "-n", "{{ vars.NAMESPACE }}", "get", "pods",
         "-l", "kubevirt.io=virt-controller"]]
    # step 6 has two commands in one block: --previous first, then current logs
    assert plan.step("diag-6-review-logs-virt-controller").params["pipeline"][0][-1] == "--previous"
    assert plan.inputs == []
    # "Skip to [Mitigation](#mitigation)" when the alert has a reason label: a judgment jump
    out = edges(plan, "if-alert-includes-reason-label-example")
    assert out["mit-1-mitigation"][0] == "jump"
    assert out["mit-1-mitigation"][2].startswith("If the alert includes a `reason` label")
    assert out["diag-2-set-namespace-environment-variable"][0] == "else"
    # steps 3-6 read NAMESPACE once step 2 bound it, and run side by side
    assert parallel_groups(plan)[0] == [
        "diag-3-check-status-virt-controller", "diag-4-check-virt-controller-deployment",
        "diag-5-check-status-virt-controller", "diag-6-review-logs-virt-controller"]
    assert "If you cannot resolve the issue" in edges(plan, "if-issue-resolved")["end-escalate"][2]


def test_cdi_data_import_cron_outdated():
    plan = load(KUBEVIRT / "CDIDataImportCronOutdated.md")
    assert [i.name for i in plan.inputs] == ["namespace", "dataimportcron", "datavolume"]
    # step 3 "If a default storage class is not defined ..." guards its command
    guard = edges(plan, "if-default-storage-class-not-defined")
    assert guard["diag-3-default-storage-class-not"] == (
        "branch", "success", "If a default storage class is not defined on the cluster")
    assert plan.step("diag-3-default-storage-class-not").params["pipeline"] == [[
        "kubectl", "-n", "{{ inputs.namespace }}", "get", "dataimportcron",
        "{{ inputs.dataimportcron }}", "-o",
        "jsonpath={.spec.template.spec.storage.storageClassName}{\"\\n\"}"]]
    # step 6 binds CDI_NAMESPACE; step 7 and the mitigation's patch read it
    assert plan.step("diag-6-set-cdi-namespace-environment").binds == {
        "vars.CDI_NAMESPACE": "result.stdout | trim"}
    assert plan.step("diag-7-check-cdi-deployment-log").params["pipeline"] == [
        ["kubectl", "logs", "-n", "{{ vars.CDI_NAMESPACE }}", "deployment/cdi-deployment"]]
    patch = plan.step("mit-3-cluster-installed-restricted-network")
    assert patch.mutating and patch.params["pipeline"][0][:3] == ["kubectl", "patch", "hco"]
    assert edges(plan, "approve-mit-3-cluster-installed-restricted-network") == {
        "mit-3-cluster-installed-restricted-network": ("next", "success", None),
        "end-escalate": ("error", "failure", None)}
    # mitigation items 1-2 have no command: a person does them
    assert plan.step("mit-1-set-default-storage-class").kind == "manual"
    assert plan.step("mit-2-issue-does-not-resolve").kind == "manual"
    assert parallel_groups(plan) == [
        ["diag-1-check-cluster-default-kubernetes", "diag-1-check-cluster-default-kubernetes-2",
         "diag-2-list-dataimportcron-objects-not"],
        ["diag-4-obtain-name-datavolume-associated", "diag-5-check-datavolume-status",
         "diag-6-set-cdi-namespace-environment"]]


def test_cdi_no_default_storage_class():
    plan = load(KUBEVIRT / "CDINoDefaultStorageClass.md")
    # both diagnosis blocks are indented 2 spaces under their item (kubevirt's list quirk)
    assert [s.id for s in plan.steps if s.kind.value == "command"] == [
        "diag-1-check-default-kubernetes-storage", "diag-2-check-default-virtualization-storage",
        "mit-1-create-default-kubernetes-storage", "mit-2-create-default-virtualization-storage"]
    patch = plan.step("mit-1-create-default-kubernetes-storage")
    assert patch.mutating
    assert patch.params["pipeline"][0][:4] == ["kubectl", "patch", "storageclass",
                                               "{{ inputs.storage_class_name }}"]
    assert [i.name for i in plan.inputs] == ["storage_class_name"]
    assert [s.kind.value for s in plan.steps].count("approve") == 2


def test_kube_pod_crash_looping_inline_commands():
    plan = load(PROM / "kubernetes/KubePodCrashLooping.md")
    assert plan.title == "Kube Pod Crash Looping"  # Hugo front matter
    assert [(s.id, s.params.get("pipeline")) for s in plan.steps if s.plugin] == [
        ("diag-1-check-template", [["kubectl", "-n", "{{ inputs.namespace }}", "get", "pod",
                                    "{{ inputs.pod }}"]]),
        ("diag-2-check-pod-events", [["kubectl", "-n", "{{ inputs.namespace }}", "describe",
                                      "pod", "{{ inputs.pod }}"]]),
        ("diag-3-check-pod-logs", [["kubectl", "-n", "{{ inputs.namespace }}", "logs",
                                    "{{ inputs.pod }}", "-c", "{{ inputs.container }}"]])]
    assert parallel_groups(plan) == [["diag-1-check-template", "diag-2-check-pod-events",
                                      "diag-3-check-pod-logs"]]
    assert plan.step("mit-1-mitigation").kind == "manual"  # "Talk with developers ..."
    assert [r.target for r in plan.references][-1].startswith("https://kubernetes.io/docs/")


def test_node_filesystem_space_filling_up():
    plan = load(PROM / "node/NodeFilesystemSpaceFillingUp.md")
    query = plan.step("diag-1-study-recent-trends-filesystem")
    assert (query.kind.value, query.plugin, query.params) == (
        "query", "prometheus", {"query": "node_filesystem_free_bytes"})
    # `kubectl debug node/...` then `chroot /host` is an interactive session: a person's job
    debug = plan.step("mit-1-debug-node-accessing-node")
    assert debug.kind.value == "manual"
    # the whole session, to the `exit`s that close it a few blocks later (engine.compile.sessions)
    assert debug.params["script"] == ("kubectl -n default debug node/$NODE_NAME\nchroot /host\n"
                                      "exit\nexit")
    # `# TODO: Command needed` blocks are comments, not steps
    assert [s.id for s in plan.steps if s.kind.value in ("command", "manual")] == [
        "mit-1-debug-node-accessing-node"]


def test_kube_deployment_replicas_mismatch():
    plan = load(PROM / "kubernetes/KubeDeploymentReplicasMismatch.md")
    assert plan.step("diag-1-check-deployment-status").params["pipeline"] == [
        ["kubectl", "-n", "{{ inputs.namespace }}", "describe", "deployment", "{{ inputs.name }}"]]
    assert edges(plan, "if-diagnosis-found-cause-mitigation-address")["end-no-action"][0] == "else"
    assert plan.step("mit-1-mitigation").text.startswith("Depending on the conditions")


def test_gitaly_unusual_activity_guards_over_manual_steps():
    plan = load(GITLAB / "gitaly/gitaly-unusual-activity.md")
    # three "If ..." bullets, each guarding numbered things a person does in the UI
    decides = [s.id for s in plan.steps if s.kind.value == "decide"]
    assert decides == ["if-affected-gitaly-server-under-load",
                       "if-traffic-being-generated-anonymous-users",
                       "if-affected-gitaly-server-under-load-2", "if-doesn-t"]
    assert all(s.kind.value in ("manual", "decide", "end") for s in plan.steps)
    (archive,) = [s.id for s in plan.steps if s.title.startswith("Archive the project")]
    assert archive in edges(plan, "if-affected-gitaly-server-under-load")
    # the review section's bullets are what a person does first ("Check out the abuse
    # dashboard"); its note ("Keep in mind that ...") is no step
    manual = [s.title for s in plan.steps if s.kind.value == "manual"]
    assert manual[0] == "Check out the abuse dashboard"
    assert not [t for t in manual if t.startswith("Keep in mind")]
    # `git upload-pack` is mentioned, not asked to be run
    assert not [s for s in plan.steps if s.plugin]


def test_packagecloud_reindex_is_a_console_session_and_ruby_for_a_person():
    plan = load(GITLAB / "uncategorized/reindex-package-in-packagecloud.md")
    assert shape(plan) == [("step-1-once-sshed-into-node", "manual", None, False),
                           ("step-2-once-rails-console-has", "manual", None, False),
                           ("step-3-can-call-function-re", "manual", None, False),
                           ("end-resolved", "end", None, False)]
    assert plan.step("step-1-once-sshed-into-node").params["script"].startswith(
        "sudo su - packagecloud\nbash\ncd /opt/packagecloud")
    assert "def package_reindex" in plan.step("step-2-once-rails-console-has").params["script"]
