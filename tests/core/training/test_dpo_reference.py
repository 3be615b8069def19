"""When DPO computes the reference model's log-probabilities once, before training: when
the run has several epochs, in one process, unless told otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from training_fixtures import fast_config

from core.training.recipes.prefs import reference_once


def _state(*overrides: str, rows: int = 100, batch: int = 4, accum: int = 2) -> SimpleNamespace:
    config = fast_config("dpo", "prefs-v1", *overrides)
    return SimpleNamespace(config=config, batch_size=batch, grad_accum=accum,
                           data=SimpleNamespace(train=[{}] * rows))


@pytest.mark.parametrize(("overrides", "rows", "once"), [
    (("max_steps=8",), 100, False),  # 64 pairs of 100: each read once
    (("max_steps=20",), 100, False),  # a run cut short: as before unless asked
    (("epochs=3", "max_steps=null"), 100, True),
    (("epochs=1", "max_steps=null"), 100, False),
    (("max_steps=8", "reference_once=always"), 100, True),
    (("epochs=3", "max_steps=null", "reference_once=never"), 100, False),
])
def test_the_reference_pass_is_made_once_when_it_pays(overrides: tuple[str, ...], rows: int,
                                                      once: bool) -> None:
    assert reference_once(_state(*overrides, rows=rows)) is once


def test_several_processes_keep_the_pass_at_each_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert reference_once(_state("reference_once=always")) is False
