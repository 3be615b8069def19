"""Cluster job bundles: a training run as a self-contained folder IT can run elsewhere.

``export_bundle`` writes::

    bundle.json        what the run is: ids, source workspace, versions, processes
    config.yaml        the training config (the same recipe fields as a local run)
    model/base/        the starting model (hard links where the disk allows)
    model/init_adapter/   the adapter it continues, if any
    datasets/<id>/     the dataset, exactly as committed
    requirements.txt   the Python packages and versions it was made with
    run.sh             plain torchrun on one machine:  NPROC=4 bash run.sh
    slurm.sbatch       the same three steps under Slurm (one or more nodes)
    README.md          for whoever runs it
    MANIFEST.sha256    every file above (``sha256sum -c MANIFEST.sha256``)

Both scripts run ``scriptorium bundle-run DIR prepare`` (verify, build a scratch
workspace under ``work/``, write the ranks' spec; resumes after a preemption), then the
ranks with torchrun, then ``scriptorium bundle-run DIR finish`` (held-out evaluation,
``result/`` with the adapter, metrics, logs and its own manifest). ``import_run`` brings
``result/`` back into the workspace the bundle came from, as an adapter whose lineage
names the base, the dataset and the documents.
"""

from __future__ import annotations

import platform
import shlex
import shutil
import sys
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import resources
from core import __version__
from core.clock import now_iso
from core.datasets.store import DatasetStore
from core.errors import ConfigError, ScriptoriumError
from core.fsutil import (
    atomic_write_json,
    atomic_write_text,
    link_or_copy,
    read_json,
    read_yaml,
    sha256_file,
)
from core.jobs.progress import JobContext
from core.jobs.store import JobStore
from core.training import distributed
from core.training.checkpoints import latest_complete
from core.training.config import TrainConfig, parse_config
from core.training.lengths import resolve_max_length
from core.workspace import Workspace
from core.workspace.registry import RECORD, ModelRecord, ModelRegistry, new_model_id

BUNDLE_FILE, CONFIG, MANIFEST = "bundle.json", "config.yaml", "MANIFEST.sha256"
RESULT, WORK, RESULT_FILE = "result", "work", "result.json"
SCRIPTS = ("run.sh", "slurm.sbatch", "README.md")  # not read by the run; admins may edit
FORMAT = 1
PACKAGES = ("scriptorium", "torch", "transformers", "peft", "accelerate", "trl",
            "safetensors", "datasets")


class BundleError(ScriptoriumError):
    """A cluster bundle or its result is missing, damaged or does not fit the workspace."""


# -- manifests ---------------------------------------------------------------------------
def write_manifest(root: Path, skip: tuple[str, ...] = ()) -> None:
    """``MANIFEST.sha256`` in sha256sum's format, for every file under ``root``."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST or relative.split("/")[0] in skip:
            continue
        lines.append(f"{sha256_file(path)}  {relative}")
    atomic_write_text(root / MANIFEST, "\n".join(lines) + "\n")


def verify_manifest(root: Path, skip: tuple[str, ...] = (),
                    editable: tuple[str, ...] = ()) -> None:
    """Refuse a missing or changed file, or an unlisted one inside a folder, by name.

    ``editable`` files are listed (IT can check them) but may be changed: the scripts, whose
    ``#SBATCH`` lines the cluster's admins adapt, and the README."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise BundleError(f"{root} has no {MANIFEST}: not a complete bundle.")
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or ".." in name.split("/"):
            raise BundleError(f"{manifest} line {number} is malformed.")
        listed[name] = digest
    problems = []
    for name, digest in listed.items():
        if name in editable:
            continue
        path = root / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name} was changed")
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        # an extra file inside a folder the run reads (a weight shard, a data file) would be
        # used: refuse it; one beside the scripts (slurm-123.out, notes) is harmless
        if (path.is_file() and "/" in relative and relative not in listed
                and relative.split("/")[0] not in skip):
            problems.append(f"{relative} is not in the manifest")
    if problems:
        raise BundleError(f"{root.name} failed its checksum check: " + "; ".join(problems[:8])
                          + ("…" if len(problems) > 8 else "") + ".")


# -- export ------------------------------------------------------------------------------
def resolve_run(workspace: Workspace, run: str | TrainConfig) -> TrainConfig:
    """A training config, a training job id of this workspace, or a config YAML file."""
    if isinstance(run, TrainConfig):
        return run
    path = Path(run).expanduser()
    if path.is_file():
        raw = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} is not a training config (a YAML mapping).")
        return parse_config(raw)
    store = JobStore(workspace)
    if not (workspace.root / "runs" / run / "job.yaml").is_file():
        raise ConfigError(f"No training run {run!r} in this workspace, and no such config file.")
    kind, raw = store.config(run)
    if kind != "train":
        raise ConfigError(f"Run {run!r} is a {kind} job, not a training run.")
    return parse_config(raw)


def _link_or_copy_tree(source: Path, destination: Path) -> None:
    shutil.copytree(source, destination, copy_function=link_or_copy)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def export_bundle(workspace: Workspace, run: str | TrainConfig, out: Path, *, nproc: int = 0,
                  nodes: int = 1, partition: str = "", time_limit: str = "24:00:00"
                  ) -> dict[str, Any]:
    """Write the bundle for ``run`` to ``out`` (which must not exist); returns bundle.json."""
    config, _ = resolve_max_length(resolve_run(workspace, run), workspace)  # auto: fixed here
    out = Path(out).absolute()
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} already exists and is not empty; choose a new folder.")
    registry = ModelRegistry(workspace)
    base = registry.get(config.base)
    if base.kind not in ("base", "merged"):
        raise BundleError(f"The base {config.base!r} is a {base.kind} model; a cluster run "
                          "starts from a base or merged safetensors model.")
    adapter = registry.get(config.init_adapter) if config.init_adapter else None
    dataset = DatasetStore(workspace).get(config.dataset)
    processes = nproc or config.nproc or 1
    config = config.model_copy(update={"resume": False, "nproc": processes})
    info = {
        "format": FORMAT, "id": f"cluster-{uuid.uuid4().hex[:10]}",
        "created": now_iso(),
        "workspace": workspace.name, "recipe": config.recipe,
        "run": run if isinstance(run, str) else "(configured in the app)",
        "base": base.model_dump(mode="json"),
        "init_adapter": adapter.model_dump(mode="json") if adapter else None,
        "dataset": dataset.model_dump(mode="json"),
        "nproc": processes, "nodes": nodes, "strategy": distributed.strategy(config),
        "versions": package_versions(),
    }
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _link_or_copy_tree(registry.path_of(base), staging / "model" / "base")
        if adapter:
            _link_or_copy_tree(registry.path_of(adapter), staging / "model" / "init_adapter")
        _link_or_copy_tree(DatasetStore(workspace).path_of(dataset.id),
                           staging / "datasets" / dataset.id)
        atomic_write_text(staging / CONFIG, _yaml(config.to_yaml_dict()))
        atomic_write_json(staging / BUNDLE_FILE, info)
        versions = info["versions"]
        atomic_write_text(staging / "requirements.txt", "".join(
            f"{name}=={version}\n" for name, version in versions.items() if name != "python"))
        values = {"NPROC": str(processes), "NODES": str(nodes), "ID": info["id"],
                  "PARTITION": f"#SBATCH --partition={partition}" if partition else "",
                  "TIME": time_limit, "PYTHON": versions["python"],
                  "RECIPE": config.recipe.upper(), "BASE": base.id, "DATASET": dataset.id,
                  "STRATEGY": info["strategy"].upper(), "WORKSPACE": workspace.name}
        for name in ("run.sh", "slurm.sbatch", "README.md"):
            text = resources.path("cluster", f"{name}.in").read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(f"@{key}@", value)
            atomic_write_text(staging / name, text)
        (staging / "run.sh").chmod(0o755)
        write_manifest(staging)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    workspace.audit.record("cluster.bundle", id=info["id"], run=info["run"], out=str(out))
    return info


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# -- running on the cluster --------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    job_dir: Path
    resumed_from: Path | None


def read_bundle(root: Path) -> dict[str, Any]:
    path = Path(root) / BUNDLE_FILE
    if not path.is_file():
        raise BundleError(f"{root} is not a cluster bundle (no {BUNDLE_FILE}).")
    info = read_json(path)
    if info.get("format") != FORMAT:
        raise BundleError(f"{root} uses bundle format {info.get('format')}; this Scriptorium "
                          f"({__version__}) reads format {FORMAT}.")
    return dict(info)


def _register_copy(registry: ModelRegistry, raw: dict[str, Any], source: Path) -> None:
    record = ModelRecord.model_validate(raw)
    with registry.create(record.id, lambda folder: record) as folder:
        for path in source.iterdir():
            if path.name == RECORD:
                continue
            if path.is_dir():
                _link_or_copy_tree(path, folder / path.name)
            else:
                shutil.copy2(path, folder / path.name)


def prepare(root: Path) -> Prepared:
    """Verify the bundle and set up (or reuse) its scratch workspace and run."""
    root = Path(root).absolute()
    info = read_bundle(root)
    verify_manifest(root, skip=(RESULT, WORK), editable=SCRIPTS)
    config = parse_config(read_yaml(root / CONFIG))
    work = root / WORK
    state_file = work / "job.json"
    if state_file.is_file():
        workspace = Workspace.open(work / "ws")
        job_dir = workspace.root / "runs" / read_json(state_file)["job"]
    else:
        shutil.rmtree(work, ignore_errors=True)
        workspace = Workspace.create(work / "ws", name=f"{info['id']} (scratch)")
        registry = ModelRegistry(workspace)
        _register_copy(registry, info["base"], root / "model" / "base")
        if info.get("init_adapter"):
            _register_copy(registry, info["init_adapter"], root / "model" / "init_adapter")
        dataset_id = info["dataset"]["id"]
        _link_or_copy_tree(root / "datasets" / dataset_id,
                           DatasetStore(workspace).root / dataset_id)
        status = JobStore(workspace).create("train", config, title=f"cluster run {info['id']}")
        job_dir = workspace.root / "runs" / status.id
        atomic_write_json(state_file, {"job": status.id})
    resumed = latest_complete(job_dir / "checkpoints")
    distributed.write_spec(job_dir, config, resumed)
    for stale in (distributed.OUTCOME, distributed.CANCEL):
        (distributed.folder(job_dir) / stale).unlink(missing_ok=True)
    return Prepared(job_dir, resumed)


def finish(root: Path) -> dict[str, Any]:
    """Evaluate and register what the ranks trained; write ``result/`` with its manifest."""
    from core.training.job import run_training

    root = Path(root).absolute()
    info = read_bundle(root)
    work = root / WORK
    if not (work / "job.json").is_file():
        raise BundleError("Nothing to finish: run `bundle-run DIR prepare` and the training "
                          "processes first.")
    workspace = Workspace.open(work / "ws")
    job_id = read_json(work / "job.json")["job"]
    job_dir = workspace.root / "runs" / job_id
    config = parse_config(read_yaml(root / CONFIG))
    outcome = run_training(config, JobContext(job_dir), trained_elsewhere=True)
    registry = ModelRegistry(workspace)
    record = registry.get(outcome["model_id"])
    staging = root / f".{RESULT}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(registry.path_of(record), staging / "adapter",
                    ignore=shutil.ignore_patterns(RECORD))
    logs = staging / "logs"
    logs.mkdir()
    shutil.copy2(job_dir / "events.jsonl", logs / "events.jsonl")
    rank_logs = distributed.folder(job_dir) / distributed.LOGS
    if rank_logs.is_dir():
        shutil.copytree(rank_logs, logs / "ranks")
    result = {"bundle": info["id"], "job": job_id, "record": record.model_dump(mode="json"),
              "metrics": outcome["metrics"], "host": platform.node(),
              "finished": now_iso(),
              "versions": package_versions()}
    atomic_write_json(staging / RESULT_FILE, result)
    write_manifest(staging)
    shutil.rmtree(root / RESULT, ignore_errors=True)
    staging.rename(root / RESULT)
    return result


def shell_exports(prepared: Prepared) -> str:
    """``prepare --shell``: assignments the scripts ``eval``."""
    values = {"JOB_DIR": str(prepared.job_dir), "PYTHON": sys.executable,
              "LOG_DIR": str(distributed.folder(prepared.job_dir) / distributed.LOGS)}
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


# -- back home ---------------------------------------------------------------------------
def import_run(workspace: Workspace, root: Path) -> ModelRecord:
    """Register a finished bundle's adapter here, with its lineage; refuses a second import."""
    root = Path(root).absolute()
    info = read_bundle(root)
    result_dir = root / RESULT
    if not (result_dir / RESULT_FILE).is_file():
        raise BundleError(f"{root.name} has no finished result yet (no {RESULT}/{RESULT_FILE}).",
                          hint="run it to the end first: run.sh or slurm.sbatch")
    verify_manifest(result_dir)
    result = read_json(result_dir / RESULT_FILE)
    if result.get("bundle") != info["id"]:
        raise BundleError(f"The result belongs to bundle {result.get('bundle')!r}, "
                          f"not {info['id']!r}.")
    registry = ModelRegistry(workspace)
    for existing in registry.list():
        if existing.config.get("cluster_bundle") == info["id"]:
            raise BundleError(f"This run was already imported as {existing.id}.")
    trained = ModelRecord.model_validate(result["record"])
    missing = [p for p in trained.parents if not registry.exists(p)]
    if missing:
        raise BundleError(
            f"The models this run was trained from are not in this workspace: "
            f"{', '.join(missing)}.", hint=f"import it into the workspace it came from "
            f"({info.get('workspace')})")
    hosts = f"{int(result['metrics'].get('processes', 1))} processes on {result.get('host')}"
    record = trained.model_copy(update={
        "id": "pending", "created": "",
        "config": {**trained.config, "run": info["id"], "cluster_bundle": info["id"],
                   "cluster_job": result.get("job")},
        "source": f"cluster run {info['id']} ({hosts})",
    })
    model_id = new_model_id(trained.name)
    with registry.create(model_id, lambda folder: record) as folder:
        for path in (result_dir / "adapter").iterdir():
            if path.is_file():
                shutil.copy2(path, folder / path.name)
        shutil.copytree(result_dir / "logs", folder / "cluster-logs")
        shutil.copy2(result_dir / RESULT_FILE, folder / "cluster-result.json")
    workspace.audit.record("cluster.import", id=info["id"], model=model_id)
    return registry.get(model_id)
