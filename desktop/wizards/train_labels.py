"""Readable names and one-line explanations for the training settings (the Advanced page).

The keys are ``TrainConfig``'s fields (``lora.r`` for the LoRA ones), which the command line
takes as ``--set key=value``; an analyst reads the name and the line under it instead.
"""

from __future__ import annotations

# key -> (name, what it does, in one line)
LABELS: dict[str, tuple[str, str]] = {
    "lora.r": ("Adapter size (rank)",
               "How much the adapter can learn: 8–16 suits a few hundred pages; larger is "
               "slower and needs more data."),
    "lora.alpha": ("Adapter strength (alpha)",
                   "How strongly the adapter changes the model; usually twice the size."),
    "lora.dropout": ("Adapter dropout",
                     "Share of the adapter left out at each step, against learning the "
                     "documents by heart."),
    "quantize_4bit": ("Load the model in 4 bits (QLoRA)",
                      "Saves GPU memory; NVIDIA GPUs only."),
    "dtype": ("Number precision", "Automatic picks bfloat16 on a recent GPU, float32 on CPU."),
    "device": ("Train on", "Automatic uses the GPU when there is one."),
    "nproc": ("Training processes",
              "Automatic: one per GPU (one on CPU). Several share the work (torchrun)."),
    "strategy": ("How processes share the work",
                 "DDP: each holds the model; FSDP: the model is split between them."),
    "gradient_checkpointing": ("Save memory (slower)",
                               "Recomputes instead of storing: about a third slower, much "
                               "less memory."),
    "packing": ("Pack short examples together",
                "Fills each sequence with several instruction examples: faster."),
    "max_length": ("Longest passage (tokens)",
                   "Longer examples are cut. Automatic: as long as the longest example "
                   "(up to 2,048); longer needs more memory."),
    "batch_size": ("Examples per step", "More is faster per example but needs more memory."),
    "grad_accum": ("Steps added up before an update",
                   "Acts like a larger batch without its memory."),
    "learning_rate": ("Learning rate",
                      "How big each update is; too high forgets the base model's skills."),
    "scheduler": ("Learning-rate schedule", "How the rate falls over the run."),
    "warmup_ratio": ("Warm-up share", "Part of the run at a rising, gentler rate."),
    "max_steps": ("Stop after (steps)", "Automatic: train for the epochs below."),
    "epochs": ("Passes over the data", "Times each example is seen; 1–3 is usual."),
    "beta": ("Preference strength",
             "How far preference training moves from the model's earlier answers."),
    "reference_once": ("Score the starting model once",
                       "Preference training: the starting model's scores of each pair are "
                       "computed before the first step, not at every step; automatic does "
                       "it for runs of several passes over the data."),
    "eval_every": ("Check held-out text every (steps)",
                   "The curve's second line; 0 never checks."),
    "eval_samples": ("Held-out examples checked", "More is steadier but slower."),
    "save_every": ("Save a checkpoint every (steps)",
                   "Pause, a crash or a full disk loses at most this much."),
    "keep_checkpoints": ("Checkpoints kept", "Older ones are deleted to save disk."),
    "log_every": ("Report progress every (steps)", ""),
    "seed": ("Random seed", "The same seed and data give the same model."),
    "deterministic": ("Exactly repeatable", "Slower; the same run gives identical weights."),
    "merge_full_model": ("Also save a full model",
                         "Merges the adapter into a copy of the base: more disk, no adapter "
                         "needed to use it."),
    "oom_retry": ("Retry when memory runs out",
                  "Halve the examples per step until it fits (more steps are "
                  "accumulated, so each update sees as many)."),
}


def label(key: str) -> tuple[str, str]:
    """The name and the one-line explanation of setting ``key``."""
    return LABELS.get(key, (key.replace("_", " ").replace(".", " ").capitalize(), ""))
