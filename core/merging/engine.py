"""Running mergekit through its Python API, with progress and cancel at every task.

This follows ``mergekit.merge.run_merge`` (mergekit 0.1.5) phase by phase — load the
models lazily, plan the task graph, execute it, save config and tokenizer — but drives
mergekit's ``Executor`` generator itself so each written tensor is a progress step and a
cancel point. Always on the CPU, tensors read lazily and freed after their last use, with
the lower-memory steps of :mod:`core.merging.lean` installed; the model card (which would
ask the hub about the model paths) is never written.

``run_merge`` has no progress hook and always writes the model card, so its five private
helpers for the output config, vocabulary, chat template, tokenizer and tag-along files
(``mergekit.merge._*``) are called directly. mergekit is pinned (``==0.1.5`` in
pyproject.toml) and the merge tests run them end to end (config, tokenizer and weights of
a real merge), so a change in them fails the build rather than a user's merge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import yaml

from core.errors import ModelError
from core.merging import lean

# mergekit holds an output shard in memory until it is written: this bounds that share of
# the merge's peak memory (transformers, the converter and our checks read shards).
OUT_SHARD_BYTES = 512 * 1024 * 1024
# report(phase, step, total, message); should raise JobCancelled to stop.
StepReport = Callable[[str, int, int, str], None]


def mergekit_options(seed: int, threads: int | None = None):  # noqa: ANN201
    from mergekit.options import MergeOptions

    return MergeOptions(
        device="cpu", cuda=False, low_cpu_memory=False, lazy_unpickle=False,
        copy_tokenizer=True, write_model_card=False, safe_serialization=True,
        trust_remote_code=False, random_seed=seed, quiet=True, num_threads=threads,
        async_write=False, out_shard_size=OUT_SHARD_BYTES,
    )


def run_mergekit(yaml_text: str, out_dir: Path, *, seed: int = 0,
                 report: StepReport | None = None) -> int:
    """Merge as ``yaml_text`` (absolute paths) says into ``out_dir``; returns tensors written."""
    import torch
    from mergekit import merge as mk
    from mergekit.architecture import get_architecture_info
    from mergekit.config import MergeConfiguration
    from mergekit.graph import Executor
    from mergekit.io.tasks import LoaderCache, SaveTensor
    from mergekit.plan import MergePlanner
    from mergekit.tokenizer import TokenizerInfo

    report = report or (lambda phase, step, total, message: None)
    logging.getLogger("mergekit").setLevel(logging.WARNING)
    config = MergeConfiguration.model_validate(yaml.safe_load(yaml_text))
    for reference in config.referenced_models():
        if not Path(reference.model.path).is_absolute():
            raise ModelError(f"mergekit was given a relative path ({reference.model.path}); "
                             "it would ask the model hub about it.")
    options = mergekit_options(seed, threads=torch.get_num_threads())
    if options.random_seed is not None:
        torch.manual_seed(options.random_seed)
    out = str(Path(out_dir).absolute())

    arch_info = get_architecture_info(config, options)
    cache = LoaderCache()
    cache.setup(options=options)
    try:
        out_config = mk._model_out_config(config, arch_info, trust_remote_code=False)
        models = config.referenced_models()
        for index, reference in enumerate(models):
            report("load", index, len(models), f"opening {Path(reference.model.path).name}")
            cache.get(reference)
        report("plan", 0, 1, "planning the merge")
        targets = MergePlanner(config, arch_info, options=options,
                               out_model_config=out_config).plan_to_disk(out_path=out)
        executor = Executor(targets=targets, math_device="cpu", storage_device="cpu")
        total = len(targets)
        tokenizer = None
        with lean.installed():
            for done, (task, value) in enumerate(executor.run(quiet=True), start=1):
                if isinstance(value, TokenizerInfo):
                    tokenizer = value.tokenizer
                label = getattr(task, "tensor_name", None) or type(task).__name__
                report("merge", done, total, f"merged {label}")
        report("save", 0, 1, "saving config and tokenizer")
        if tokenizer is not None:
            mk._update_config_vocab(out_config, arch_info, tokenizer)
        out_config.save_pretrained(out)
        if tokenizer is not None:
            mk._set_chat_template(tokenizer, config)
            tokenizer.save_pretrained(out, safe_serialization=True)
        else:
            mk._copy_tokenizer(config, out, options=options)
        mk._copy_tagalong_files(config, out, files=arch_info.tagalong_files or [],
                                options=options)
        return sum(isinstance(target, SaveTensor) for target in targets)
    finally:
        cache.flush_all()
        cache.loaders.clear()
