"""Delivery from GitHub: actionlint passes on the example workflow and on the project's own; the
action's shell steps, run as a runner would with its inputs set, push to the local ECR and report
the registry, the references and the digest."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "examples" / "deliver-to-ecr.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint is missing: pip install -e '.[test]'"
    assert shutil.which("shellcheck"), "shellcheck is missing (make test-tools): actionlint checks run: scripts with it"
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, files)], capture_output=True, text=True, cwd=ROOT)


def test_actionlint_passes_on_the_example_and_the_projects_workflows():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = actionlint(EXAMPLE, *workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_broken_example(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(EXAMPLE.read_text().replace("role-to-assume:", "role-to-asume:"))
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'input "role-to-asume" is not defined' in done.stdout


def test_the_example_takes_credentials_by_oidc_and_delivers_with_the_action():
    workflow = yaml.safe_load(EXAMPLE.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["deliver"]["steps"]
    credentials = next(
        step for step in steps if step.get("uses", "").startswith("aws-actions/configure-aws-credentials")
    )
    assert "role-to-assume" in credentials["with"] and "aws-access-key-id" not in credentials["with"]
    assert any("docker build" in step.get("run", "") for step in steps)
    deliver = next(step for step in steps if step.get("id") == "deliver")
    assert deliver["uses"].split("@")[0].endswith("/ecrtool")
    assert set(deliver["with"]) <= set(yaml.safe_load(ACTION.read_text())["inputs"])


def test_the_actions_scripts_pass_shellcheck(tmp_path):
    for number, step in enumerate(yaml.safe_load(ACTION.read_text())["runs"]["steps"]):
        assert "${{" not in step["run"], "inputs reach scripts through env, never pasted in"
        script = tmp_path / f"step{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


class StepFailed(Exception):
    """A step of the action exited non-zero, as a job's step would fail."""

    def __init__(self, name: str, done: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"step {name!r} failed:\n{done.stdout}\n{done.stderr}")
        self.name = name
        self.done = done


def run_action(inputs: dict[str, str], base_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run the composite action's steps as GitHub's runner does: bash -e with the step's env, GITHUB_PATH
    entries on PATH for later steps, and the outputs read back from GITHUB_OUTPUT. A failing step raises
    StepFailed."""
    action = yaml.safe_load(ACTION.read_text())
    given = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    given.update(inputs)
    # the action's checkout, as the runner lays it out: the repository's files, not this work tree's state
    checkout = tmp_path / "action"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".local-ecr", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "build", "tests",
    ))  # fmt: skip
    files = {name: tmp_path / name for name in ("output", "path", "step-output")}
    for file in files.values():
        file.write_text("")
    # the project's venv is left off PATH: ecrtool must come from the action's own install step
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in base_env["PATH"].split(os.pathsep) if p != venv_bin)
    runner_env = {
        **base_env,
        "PATH": path,
        "GITHUB_ACTION_PATH": str(checkout),
        "GITHUB_PATH": str(files["path"]),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    }
    (tmp_path / "runner-temp").mkdir()
    outputs: dict[str, dict[str, str]] = {}
    for number, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash"
        added = [line for line in files["path"].read_text().splitlines() if line]
        env = {**runner_env, "PATH": os.pathsep.join([*reversed(added), path])}
        env["GITHUB_OUTPUT"] = str(files["step-output"])
        files["step-output"].write_text("")
        for key, value in (step.get("env") or {}).items():
            value = EXPRESSION.sub(lambda match: given[match.group(1)], str(value))
            env[key] = STEP_OUTPUT.sub(lambda match: outputs[match.group(1)][match.group(2)], value)
        script = tmp_path / f"step{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        if done.returncode != 0:
            raise StepFailed(step["name"], done)
        if "id" in step:
            lines = files["step-output"].read_text().splitlines()
            outputs[step["id"]] = dict(line.split("=", 1) for line in lines)
    results = {}
    for name, spec in action["outputs"].items():
        match = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", spec["value"])
        assert match, spec["value"]
        results[name] = outputs[match.group(1)][match.group(2)]
    return results


def test_the_action_pushes_and_reports_its_outputs(env, ecrtool, stack, test_image, repo_name, tmp_path):
    # the local ECR's scan finds one HIGH finding in every image (moto's own answer): below CRITICAL
    inputs = {"image": "viruses", "repository": repo_name, "tags": "v1, latest", "create": "true"}
    outputs = run_action({**inputs, "scan-fail-on": "critical"}, env, tmp_path)
    assert outputs["registry"] == stack.registry
    assert outputs["references"] == f"{stack.registry}/{repo_name}:v1 {stack.registry}/{repo_name}:latest"
    (image,) = json.loads(ecrtool("images", repo_name, "-o", "json").stdout)
    assert sorted(image["tags"]) == ["latest", "v1"]
    assert outputs["digest"] == image["digest"]


def test_the_actions_scan_gate_fails_the_job_on_a_finding_at_its_level(
    env, ecrtool, stack, test_image, repo_name, tmp_path
):
    with pytest.raises(StepFailed) as failed:
        inputs = {"image": "viruses", "repository": repo_name, "create": "true", "scan-fail-on": "high"}
        run_action(inputs, env, tmp_path)
    assert failed.value.name == "Scan with ecrtool"
    assert failed.value.done.returncode == 1
    (image,) = json.loads(ecrtool("images", repo_name, "-o", "json").stdout)  # pushed before the gate
    reference = f"{stack.registry}/{repo_name}@{image['digest']}"
    assert failed.value.done.stderr.splitlines()[-1] == (
        f"ecrtool: error: 1 finding at HIGH or above: 1 HIGH in {reference}"
    )
    assert "CVE-9999-9999" in failed.value.done.stdout


def test_the_action_refuses_an_unknown_scan_level_before_pushing(tmp_path):
    (push,) = [step for step in yaml.safe_load(ACTION.read_text())["runs"]["steps"] if step.get("id") == "push"]
    script = tmp_path / "push.sh"
    script.write_text(push["run"])
    # no ecrtool on PATH: the refusal must come before any command runs
    env = {"PATH": "/usr/bin:/bin", "INPUT_IMAGE": "viruses", "INPUT_SCAN_FAIL_ON": "severe"}
    done = subprocess.run(["bash", "-eo", "pipefail", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == "::error::scan-fail-on must be LOW, MEDIUM, HIGH, CRITICAL or empty, not 'severe'\n"
