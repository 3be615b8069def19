"""Cluster bundles: export a run, run it with its own scripts in a fresh folder on two CPU
processes, import the result back with its lineage; damaged bundles and results are
refused by file name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from training_fixtures import TINY_BASE, fast_config

from core.fsutil import read_yaml
from core.jobs.store import JobStore
from core.training.cluster import BundleError, export_bundle, import_run, verify_manifest
from core.workspace import Workspace
from core.workspace.registry import ModelRegistry

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]
BIN = Path(sys.executable).parent
RUN = ["max_steps=4", "save_every=2", "eval_every=0", "batch_size=2", "nproc=2", "device=cpu"]


def _planned_run(workspace: Workspace) -> str:
    """A training run recorded in the workspace but not started (as the wizard saves it)."""
    return JobStore(workspace).create("train", fast_config("cpt", "cpt-v1", *RUN)).id


def _script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SCRIPTORIUM": str(BIN / "scriptorium"), "NPROC": "2",
           "PATH": f"{tmp_path / 'shims'}:{BIN}:{os.environ['PATH']}", **extra}
    env.pop("SCRIPTORIUM_WORKSPACE", None)
    return env


def _run(script: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", str(script)], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_bundle_runs_with_its_torchrun_script_and_imports_back(
        train_workspace: Workspace, tmp_path: Path) -> None:
    run_id = _planned_run(train_workspace)
    out = tmp_path / "export"
    info = export_bundle(train_workspace, run_id, out)
    for name in ("bundle.json", "config.yaml", "run.sh", "slurm.sbatch", "README.md",
                 "requirements.txt", "MANIFEST.sha256", "model/base/config.json",
                 "datasets/cpt-v1/train.jsonl"):
        assert (out / name).is_file(), name
    assert info["nproc"] == 2 and info["base"]["id"] == TINY_BASE
    assert "torch==" in (out / "requirements.txt").read_text()
    verify_manifest(out)

    fresh = tmp_path / "cluster" / "job"  # IT copies the folder somewhere else
    shutil.copytree(out, fresh)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    _run(fresh / "run.sh", _script_env(tmp_path), elsewhere)
    result = json.loads((fresh / "result" / "result.json").read_text())
    assert result["metrics"]["processes"] == 2 and result["metrics"]["steps"] == 4
    assert (fresh / "result" / "adapter" / "adapter_model.safetensors").is_file()
    assert list((fresh / "result" / "logs" / "ranks").rglob("stderr.log"))

    tampered = tmp_path / "tampered"  # a result changed on the way back is refused
    shutil.copytree(fresh, tampered)
    weights = tampered / "result" / "adapter" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="adapter/adapter_model.safetensors was changed"):
        import_run(train_workspace, tampered)

    imported = subprocess.run(
        [str(BIN / "scriptorium"), "import-run", "-w", str(train_workspace.root), str(fresh),
         "--json"], capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr
    record = ModelRegistry(train_workspace).get(json.loads(imported.stdout)["id"])
    assert record.kind == "adapter" and record.parents == (TINY_BASE,)
    assert record.datasets == ("cpt-v1",) and record.documents
    assert record.config["cluster_bundle"] == info["id"]
    assert "cluster run" in record.source and "2 processes" in record.source
    assert record.metrics["heldout_ppl_after"] < record.metrics["heldout_ppl_before"]
    lineage = [r.id for r in ModelRegistry(train_workspace).lineage(record.id)]
    assert lineage == [record.id, TINY_BASE]

    with pytest.raises(BundleError, match="already imported"):
        import_run(train_workspace, fresh)


def test_slurm_script_runs_the_same_steps(train_workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_bundle(train_workspace, _planned_run(train_workspace), out, partition="gpu")
    text = (out / "slurm.sbatch").read_text()
    assert "#SBATCH --partition=gpu" in text and "#SBATCH --gpus-per-node=2" in text
    # the cluster's admins adapt the #SBATCH lines: that must not fail the checksum check
    (out / "slurm.sbatch").write_text(text.replace("--partition=gpu", "--partition=a100"))
    shims = tmp_path / "shims"
    shims.mkdir()
    # one node: srun runs the step here; scontrol names this host
    (shims / "srun").write_text('#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\n'
                                'exec "$@"\n')
    (shims / "scontrol").write_text("#!/bin/sh\necho 127.0.0.1\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    env = _script_env(tmp_path, SLURM_NNODES="1", SLURM_JOB_ID="4242",
                      SLURM_JOB_NODELIST="localhost", SLURM_SUBMIT_DIR=str(out))
    _run(out / "slurm.sbatch", env, tmp_path)
    assert json.loads((out / "result" / "result.json").read_text())["metrics"]["steps"] == 4
    # Slurm writes its output beside the scripts; a resubmission must still verify
    (out / "slurm-4242.out").write_text("log\n")
    from core.training.cluster import prepare

    assert prepare(out).job_dir.is_dir()


def test_damaged_bundles_and_results_are_refused_by_name(train_workspace: Workspace,
                                                         tmp_path: Path) -> None:
    from core.training.cluster import prepare

    out = tmp_path / "bundle"
    export_bundle(train_workspace, _planned_run(train_workspace), out)
    data = out / "datasets" / "cpt-v1" / "train.jsonl"
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(BundleError, match="datasets/cpt-v1/train.jsonl was changed"):
        prepare(out)
    data.write_bytes(b"")
    (out / "model" / "base" / "extra.safetensors").write_bytes(b"weights")
    with pytest.raises(BundleError, match="model/base/extra.safetensors is not in the manifest"):
        prepare(out)
    with pytest.raises(BundleError, match="no finished result"):
        import_run(train_workspace, out)
    with pytest.raises(BundleError, match="not empty"):
        export_bundle(train_workspace, _planned_run(train_workspace), out)
    with pytest.raises(Exception, match="No training run 'nope'"):
        export_bundle(train_workspace, "nope", tmp_path / "other")


def test_a_bundle_carries_the_length_auto_resolved_to(train_workspace: Workspace,
                                                      tmp_path: Path) -> None:
    config = fast_config("sft", "sft-v1", "max_length=0")
    export_bundle(train_workspace, config, tmp_path / "export")
    # the ranks on the cluster read the bundle's config as it is: never 0
    assert read_yaml(tmp_path / "export" / "config.yaml")["max_length"] == 512
