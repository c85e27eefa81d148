"""``serve.py``, README's way to start the app: streamlit serves it as an ``st.App`` whose startup
(``toyood_app.warm.warm_up``) leaves the Playground's default model trained, stored and in the job table, and
``toyood app`` starts exactly it. (The browser tests start their servers with it, too.)"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from streamlit.web.server.app_discovery import discover_asgi_app

from toyood.cli import app as cli_app
from toyood.gan import train_gan
from toyood.models import piecewise_affine_layers
from toyood.ray import ray_profile
from toyood.regions import enumerate_regions
from toyood.toy import train_toy
from toyood_app import stores, training, warm
from toyood_app.jobs import JobTable
from toyood_app.running import EXPECTED_ERRORS, jobs
from toyood_app.state import AppState
from toyood_app.views import proof_view_half
from toyood_app.warm import warm_up

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_serves_serve_py_as_an_app_with_its_startup():
    found = discover_asgi_app(ROOT / "serve.py")
    assert found.is_asgi_app and found.import_string == "serve:app"
    assert not discover_asgi_app(ROOT / "app.py").is_asgi_app  # app.py stays the page script


def _finished(key):
    job = jobs().jobs[key]
    assert job.done.wait(timeout=600) and job.error is None, job.error
    return job.value


def test_warm_up_computes_what_the_default_pages_show_once_as_the_jobs_they_ask_for(tmp_path, monkeypatch,
                                                                                   one_thread):
    monkeypatch.setenv("TOYOOD_APP_CACHE", str(tmp_path))
    monkeypatch.setattr(warm, "SCENARIOS", {})  # the lecture's steps: tests/test_app_warm.py
    jobs.clear()
    defaults = AppState()
    configs = list(defaults.toy_configs().values())
    assert all(stores.stored_run(config) is None for config in configs)
    stores.shipped_runs.cache_clear()
    parts = warm_up()
    box = float(defaults.box)
    for config in configs:
        served = _finished(("toy", config))
        assert _finished(("metrics", config)) == stores.stored_metrics(config)  # computed, and kept on disk
        alone = train_toy(config)  # the same seed and config: the same model, bit for bit
        for name, value in alone.model.state_dict().items():
            assert torch.equal(stores.stored_run(config).model.state_dict()[name], value)
            assert torch.equal(served.model.state_dict()[name], value)
        layers, negative_slope = piecewise_affine_layers(alone.model)
        proof_half = proof_view_half(ray_profile(alone.model, np.array(defaults.point)))
        assert proof_half > box  # the default ray leaves the Linear regions page's box
        for half in (box, proof_half):
            direct = enumerate_regions(layers, half, negative_slope)
            regions = _finished(("regions", config, half))
            assert len(regions) == len(direct) and np.array_equal(regions.patterns, direct.patterns)
    gan = _finished(("gan", defaults.gan_config())).run
    alone = train_gan(defaults.gan_config())
    for name, value in alone.classifier.model.state_dict().items():
        assert torch.equal(gan.classifier.model.state_dict()[name], value)
    assert stores.shipped_runs.cache_info().currsize == 1  # the image page's stored runs, read for its visitors
    assert set(parts) == {"image page", "optimiser imports", "GAN", f"region map ±{box:g}", f"region map ±{proof_half:g}",
                          *(f"{part} {c.method}" for c in configs for part in ("default model", "metrics")),
                          *(f"regions {c.method} ±{half:g}" for c in configs for half in (box, proof_half))}

    def no_training(*args, **kwargs):
        raise AssertionError("a second start trained the default model again")

    monkeypatch.setattr(training, "train_toy_with_source", no_training)
    jobs.clear()
    warm_up()
    for config in configs:
        assert _finished(("toy", config)).config == config
        _finished(("regions", config, box))
    jobs.clear()


def test_a_failing_warm_start_is_logged_and_the_server_starts_cold(monkeypatch, caplog):
    monkeypatch.setenv("TOYOOD_THREADS", "many")  # the pages say what is wrong with it; the start goes on
    jobs.clear()
    assert warm_up() == {}
    assert "the warm start stopped" in caplog.text and "TOYOOD_THREADS" in caplog.text
    assert not jobs().jobs


def test_toyood_app_starts_serve_py_from_the_checkout(monkeypatch):
    started = {}
    monkeypatch.setattr(cli_app.os, "chdir", lambda folder: started.setdefault("cwd", folder))
    monkeypatch.setattr(cli_app.os, "execv", lambda program, command: started.setdefault("command", command))
    cli_app.run(argparse.Namespace(port=8600, headless=True))
    assert started["cwd"] == ROOT
    assert started["command"][1:] == ["-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", "8600",
                                      "--server.headless", "true"]


def test_stop_all_ends_running_jobs_at_their_next_progress_call():
    table = JobTable({})

    def endless(job):
        while True:
            job(0.5, "working")
            time.sleep(0.01)

    job = table.get_or_start(("endless",), "Endless", endless, True, EXPECTED_ERRORS)
    assert not job.done.wait(0.2)
    assert table.stop_all(timeout=10.0)
    assert job.cancelled and ("endless",) not in table.jobs
