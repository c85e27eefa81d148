"""OOD training points of the user's own: ``ToyConfig.extra_ood`` (validated, in the pool
``EXTRA_OOD_COPIES`` times, part of the cache key, saved with the run), ``toyood toy --ood-points``,
the link's ``ood-points`` and the Playground (AppTest; a real click in ``test_browser_click``)."""
import dataclasses
import json

import numpy as np
import pytest

from test_app import SMALL, assert_clean, open_link

from toyood.cli import main
from toyood.errors import ConfigError
from toyood.runfiles import load_run, save_run
from toyood.toy import EXTRA_OOD_COPIES, MAX_EXTRA_OOD, ToyConfig, ood_pool, train_toy
from toyood_app.link import DEFAULT, parse_query, to_query

TINY = dict(hidden=(8, 8), epochs=1, n_per_class=20, n_far=100)
POINTS = ((40.0, 30.0), (-60.0, 10.5))


def test_extra_points_join_the_sampled_pool_as_copies():
    plain_pool = ood_pool(ToyConfig(method="reject", **TINY))
    pool = ood_pool(ToyConfig(method="reject", extra_ood=POINTS, **TINY))
    np.testing.assert_array_equal(pool[:len(plain_pool)], plain_pool)
    extra = pool[len(plain_pool):]
    assert len(extra) == EXTRA_OOD_COPIES * len(POINTS)
    for point in POINTS:
        assert (np.all(extra == np.float32(point), axis=1)).sum() == EXTRA_OOD_COPIES


def test_extra_points_are_part_of_the_cache_key_and_of_a_saved_run(tmp_path):
    config = ToyConfig(method="confidence", ood="general", extra_ood=[[40, 30], (-60, 10.5)], **TINY)
    assert config.extra_ood == POINTS and hash(config) != hash(dataclasses.replace(config, extra_ood=()))
    run = train_toy(config)
    loaded = load_run(save_run(run, tmp_path / "run"))
    assert loaded.config == config
    np.testing.assert_array_equal(loaded.ood_train, run.ood_train)


@pytest.mark.parametrize("settings,message", [
    (dict(method="plain"), "sampled pool"), (dict(method="reject", ood="gan"), "sampled pool"),
    (dict(method="reject", extra_ood=((np.nan, 1.0),)), "finite"),
    (dict(method="reject", extra_ood=((2e6, 1.0),)), "finite"),
    (dict(method="reject", extra_ood=((1.0, 2.0), (1.0, 2.0))), "twice"),
    (dict(method="reject", extra_ood=tuple((float(i), 0.0) for i in range(MAX_EXTRA_OOD + 1))), "at most"),
    (dict(method="reject", extra_ood=((1.0, 2.0, 3.0),)), "pairs"),
    (dict(method="reject", extra_ood="40:30"), "pairs"),
])
def test_bad_extra_points_are_refused(settings, message):
    settings = {"extra_ood": POINTS, **settings}
    with pytest.raises(ConfigError, match=message):
        ToyConfig(**settings, **{k: v for k, v in TINY.items()})


def test_a_saved_run_with_malformed_points_is_refused(tmp_path):
    folder = save_run(train_toy(ToyConfig(method="reject", extra_ood=POINTS, **TINY)), tmp_path / "run")
    raw = json.loads((folder / "config.json").read_text())
    raw["extra_ood"] = [[1, "x"]]
    (folder / "config.json").write_text(json.dumps(raw))
    from toyood.errors import RunFileError
    with pytest.raises(RunFileError, match="extra_ood"):
        load_run(folder)


def _cli_tiny() -> list[str]:
    return ["--hidden", "8,8", "--epochs", "1", "--n-per-class", "20", "--n-far", "100"]


def test_cli_ood_points_reach_the_config_and_the_json(tmp_path, capsys):
    assert main(["toy", "--method", "reject", "--ood-points", "40:30;-60:10.5", *_cli_tiny(), "--json",
                 "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["ood_points"] == [[40.0, 30.0], [-60.0, 10.5]]
    assert load_run(tmp_path / "run").config.extra_ood == POINTS


def test_cli_ood_points_go_to_the_methods_that_train_on_ood_samples(capsys):
    assert main(["toy", "--method", "plain,reject", "--ood-points", "40:30", *_cli_tiny(), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "ood_points" not in summary["plain"] and summary["reject"]["ood_points"] == [[40.0, 30.0]]


@pytest.mark.parametrize("argv,message", [
    (["--method", "reject", "--ood-points", "40"], "X:Y"), (["--method", "reject", "--ood-points", "a:1"], "number"),
    (["--method", "reject", "--ood-points", "nan:1"], "finite"), (["--method", "reject", "--ood-points", ";"], "X:Y"),
    (["--method", "plain", "--ood-points", "40:30"], "sampled pool"),
    (["--method", "reject", "--ood", "gan", "--ood-points", "40:30"], "sampled pool"),
    (["--method", "reject", "--ood-points", "1:1;1:1"], "twice"),
])
def test_cli_bad_ood_points_give_one_line(argv, message, capsys):
    assert main(["toy", *argv, *_cli_tiny()]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_link_spells_points_as_the_cli_and_round_trips():
    state, problems = parse_query({"method": "reject", "ood-points": "40:30;-60:10.5"})
    assert problems == [] and state.ood_points == POINTS
    assert to_query(state)["ood-points"] == "40:30;-60:10.5"
    assert state.toy_config("reject").extra_ood == POINTS
    assert state.toy_config("plain").extra_ood == (), "a method without OOD samples ignores them"
    assert dataclasses.replace(state, ood="gan").toy_config("reject").extra_ood == ()


@pytest.mark.parametrize("text", ["40", "a:b", "1:2:3", "2000000:1", ";"])
def test_bad_points_in_a_link_say_so(text):
    state, problems = parse_query({"ood-points": text})
    assert state.ood_points == DEFAULT.ood_points and problems and "`ood-points=" in problems[0]


def test_the_playground_trains_with_the_points_of_the_link_and_clears_them():
    app = open_link("playground", method="confidence", **{"ood-points": "40:30;-60:10.5"}, **SMALL)
    assert_clean(app)
    assert any("Click the confidence map" in c.value and "2 so far" in c.value for c in app.caption)
    assert "your OOD points" in app.get("plotly_chart")[0].proto.spec
    app.button(key="clear-ood-points").click().run()
    assert_clean(app)
    assert "ood-points" not in app.query_params
    assert any("0 so far" in c.value for c in app.caption)


def test_points_are_not_clickable_where_they_would_not_train():
    app = open_link("playground", method="plain", **{"ood-points": "40:30"}, **SMALL)
    assert_clean(app)
    assert any("train only a single method that uses OOD samples" in c.value for c in app.caption)
    assert "click to add an OOD point" not in app.get("plotly_chart")[0].proto.spec
