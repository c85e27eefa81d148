"""The app's run cache (``toyood_app.stores``): a damaged entry is ignored, a changed library never
serves an old run, the cache keeps at most ``MAX_CACHED_RUNS`` runs, oldest out first."""
from __future__ import annotations

import logging
import os
import types

import numpy as np
import pytest

from toyood.predict import probabilities
from toyood.toy import ToyConfig, train_toy
from toyood_app import stores

TINY = dict(hidden=(8, 8), epochs=1, n_per_class=40, n_far=100, device="cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYOOD_APP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def runs():
    return [train_toy(ToyConfig(seed=seed, **TINY)) for seed in range(3)]


def test_a_stored_run_comes_back_with_the_same_predictions(cache, runs):
    stores.store_run(runs[0], {"test_accuracy": 0.5})
    again = stores.stored_run(runs[0].config)
    x = runs[0].data.x_test
    np.testing.assert_array_equal(probabilities(again.model, x), probabilities(runs[0].model, x))
    assert stores.stored_metrics(runs[0].config) == {"test_accuracy": 0.5} and stores.is_stored(runs[0].config)
    assert stores.stored_run(runs[1].config) is None


@pytest.mark.parametrize("damage", ["model.pt", "config.json"])
def test_a_damaged_entry_is_logged_and_ignored(cache, runs, caplog, damage):
    stores.store_run(runs[0])
    folder = stores.run_folder(runs[0].config)
    (folder / damage).write_bytes(b"\x00 not what it should be")
    with caplog.at_level(logging.WARNING, logger="toyood.app"):
        assert stores.stored_run(runs[0].config) is None
    assert "ignoring the cached run" in caplog.text and damage in caplog.text


def test_an_entry_holding_another_config_is_not_served(cache, runs):
    stores.store_run(runs[1])
    stores.run_folder(runs[1].config).rename(stores.run_folder(runs[0].config))
    assert stores.stored_run(runs[0].config) is None


def test_a_changed_library_never_serves_an_old_run(cache, runs, monkeypatch, tmp_path):
    """The cache key holds ``code_digest``: a run stored under one version of toyood's sources is
    not found under another, and editing any source file changes the digest."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "farfield.py").write_text("ALPHA = 1e8\n")
    monkeypatch.setattr(stores, "toyood", types.SimpleNamespace(__file__=str(package / "__init__.py")))
    stores.code_digest.cache_clear()
    try:
        before = stores.code_digest()
        stores.store_run(runs[0])
        assert stores.stored_run(runs[0].config) is not None
        (package / "sub" / "farfield.py").write_text("ALPHA = 1e9\n")
        stores.code_digest.cache_clear()
        assert stores.code_digest() != before
        assert stores.stored_run(runs[0].config) is None and not stores.is_stored(runs[0].config)
    finally:
        stores.code_digest.cache_clear()


def test_the_cache_keeps_the_newest_runs_up_to_its_limit(cache, runs, monkeypatch):
    monkeypatch.setattr(stores, "MAX_CACHED_RUNS", 2)
    path, _ = stores.store_upload(b"x,y,label\n0,0,0\n")  # uploads live in .uploads: never evicted
    for age, run in enumerate(runs):
        stores.store_run(run)
        os.utime(stores.run_folder(run.config), (1e9 + age, 1e9 + age))  # distinct, increasing times
    assert [stores.is_stored(run.config) for run in runs] == [False, True, True]
    assert path.is_file() and len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_keep_newest_removes_the_oldest_beyond_the_limit(tmp_path):
    files = []
    for name, mtime in [("c", 300), ("a", 100), ("d", 400), ("b", 200)]:
        (tmp_path / name).write_text(name)
        os.utime(tmp_path / name, (mtime, mtime))
        files.append(tmp_path / name)
    removed = []
    stores.keep_newest(files, 2, removed.append)
    assert [p.name for p in removed] == ["a", "b"]
    stores.keep_newest(files, 4, removed.append)
    assert len(removed) == 2


def test_no_cache_when_switched_off(monkeypatch, runs):
    monkeypatch.setenv("TOYOOD_APP_CACHE", "off")
    assert stores.run_folder(runs[0].config) is None
    stores.store_run(runs[0])  # nothing to write, nothing raised
    assert stores.stored_run(runs[0].config) is None and stores.stored_metrics(runs[0].config) is None
