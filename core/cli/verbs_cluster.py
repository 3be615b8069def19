"""CLI verbs for cluster runs: bundle (export a run), bundle-run (its steps, used by the
bundle's scripts) and import-run (bring the finished run back with its lineage)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import add_common, open_workspace
from core.cli.output import print_json


def register(sub: argparse._SubParsersAction) -> None:
    bundle = sub.add_parser(
        "bundle", help="export a training run as a folder to run on a GPU cluster "
        "(torchrun script, Slurm script, data and model with checksums)")
    add_common(bundle)
    bundle.add_argument("run", metavar="RUN", help="training job id, or a training config YAML")
    bundle.add_argument("--out", required=True, type=Path, help="new folder to write")
    bundle.add_argument("--nproc", type=int, default=0,
                        help="processes (GPUs) per node (default: the run's nproc, else 1)")
    bundle.add_argument("--nodes", type=int, default=1, help="Slurm nodes (default 1)")
    bundle.add_argument("--partition", default="", help="Slurm partition to ask for")
    bundle.add_argument("--time", dest="time_limit", default="24:00:00",
                        help="Slurm time limit (default 24:00:00)")
    bundle.set_defaults(handler=cmd_bundle)

    run = sub.add_parser(
        "bundle-run", help="a cluster bundle's steps (called by its run.sh / slurm.sbatch)")
    run.add_argument("bundle", type=Path, metavar="DIR")
    run.add_argument("step", choices=("prepare", "finish", "verify"))
    run.add_argument("--shell", action="store_true",
                     help="prepare: print shell assignments (JOB_DIR, PYTHON, LOG_DIR)")
    run.add_argument("--json", action="store_true", help="machine-readable JSON output")
    run.set_defaults(handler=cmd_bundle_run)

    back = sub.add_parser("import-run", help="register a finished cluster run in the workspace")
    add_common(back)
    back.add_argument("bundle", type=Path, metavar="DIR")
    back.set_defaults(handler=cmd_import_run)


def cmd_bundle(args: argparse.Namespace) -> int:
    from core.training.cluster import export_bundle

    workspace = open_workspace(args)
    info = export_bundle(workspace, args.run, args.out, nproc=args.nproc, nodes=args.nodes,
                         partition=args.partition, time_limit=args.time_limit)
    if args.json:
        print_json({"bundle": info["id"], "out": str(args.out.absolute()), **info})
    else:
        print(f"wrote cluster bundle {info['id']} to {args.out}")
        print(f"  {info['recipe'].upper()} on {info['dataset']['id']} from {info['base']['id']}, "
              f"{info['nproc']} process(es) per node, {info['strategy'].upper()}")
        print(f"  run it: NPROC={info['nproc']} bash {args.out}/run.sh   "
              f"or   sbatch {args.out}/slurm.sbatch")
        print(f"  then:   scriptorium import-run --workspace {workspace.root} {args.out}")
    return 0


def cmd_bundle_run(args: argparse.Namespace) -> int:
    from core.training import cluster

    if args.step == "verify":
        cluster.read_bundle(args.bundle)
        cluster.verify_manifest(args.bundle, skip=(cluster.RESULT, cluster.WORK),
                                editable=cluster.SCRIPTS)
        print("bundle ok")
        return 0
    if args.step == "prepare":
        prepared = cluster.prepare(args.bundle)
        if args.shell:
            print(cluster.shell_exports(prepared), end="")
        elif args.json:
            print_json({"job_dir": str(prepared.job_dir),
                        "resumed_from": str(prepared.resumed_from or "")})
        else:
            print(f"ready: {prepared.job_dir}"
                  + (f" (resuming from {prepared.resumed_from.name})"
                     if prepared.resumed_from else ""))
        return 0
    result = cluster.finish(args.bundle)
    if args.json:
        print_json(result)
    else:
        metrics = result["metrics"]
        print(f"finished: held-out perplexity {metrics['heldout_ppl_before']:.2f} → "
              f"{metrics['heldout_ppl_after']:.2f}, {int(metrics['steps'])} steps on "
              f"{int(metrics['processes'])} processes; result in {args.bundle}/result")
    return 0


def cmd_import_run(args: argparse.Namespace) -> int:
    from core.training.cluster import import_run

    workspace = open_workspace(args)
    record = import_run(workspace, args.bundle)
    if args.json:
        print_json(record.model_dump(mode="json"))
    else:
        print(f"registered {record.id} ({record.source}); parents: {', '.join(record.parents)}")
    return 0
