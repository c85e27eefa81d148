"""The paper claims the app shows (issue 23): temperature, bounded activations, adversarial far
points. Each number a page shows is checked against an independent computation: the same config
trained with the library, then a numpy forward pass of its weights (logits / T) and a brute-force
walk far out, never the metric function the page calls."""
import base64
import dataclasses
import json
import re

import numpy as np
import pytest

from test_app import PAGE_FILES, SMALL, assert_clean, open_link
from toyood.toy import far_test_points, train_toy
from toyood_app.lecture import SCENARIOS
from toyood_app.link import parse_query


def trained(query: dict, method: str = "plain"):
    """The run the app shows for ``query``, trained here by the library (deterministic per config)."""
    return train_toy(parse_query(query)[0].toy_config(method))


def numpy_probs(run, x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(f(x) / T) by a float64 numpy forward pass of the run's MLP weights."""
    model = run.model
    act = {"relu": lambda h: np.maximum(h, 0), "leaky": lambda h: np.where(h > 0, h, model.negative_slope * h),
           "tanh": np.tanh, "sigmoid": lambda h: np.exp(-np.logaddexp(0, -h))}[model.activation]
    h = np.asarray(x, dtype=np.float64)
    for layer in model.hidden_layers:
        h = act(h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy())
    z = (h @ model.head.weight.detach().double().numpy().T + model.head.bias.detach().double().numpy()) / temperature
    z -= z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


def unit_circle(n: int) -> np.ndarray:
    angles = (np.arange(n) + 0.5) * 2 * np.pi / n
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def shown_number(app, label_start: str) -> list[float]:
    """The figures of the step's metric whose label starts with ``label_start`` ('12%' → 0.12)."""
    metric = next(m for m in app.metric if m.label.startswith(label_start))
    return [float(v.rstrip("%")) / (100 if v.endswith("%") else 1) for v in metric.value.split(" · ")]


def brute_median_radius(run, temperature: float, threshold: float = 0.99) -> float:
    """Median over the first 200 far points' directions u of the smallest r ≥ 1 on a fine geometric
    grid (ratio 1.0035) with confidence(r·u) ≥ threshold (numpy forward pass)."""
    far = far_test_points(run.config, run.data)[:200]
    directions = far / np.linalg.norm(far, axis=1, keepdims=True)
    radii = np.geomspace(1, 1e6, 4000)
    reached = []
    for u in directions:
        confident = numpy_probs(run, radii[:, None] * u, temperature).max(-1) >= threshold
        reached.append(radii[np.argmax(confident)] if confident.any() else np.inf)
    return float(np.median(reached))


def test_the_temperature_step_shows_every_direction_still_certain_and_the_radius_growing_with_t():
    query = {**SCENARIOS["temperature"].link_query(), **SMALL}
    app = open_link("far-away", **query)
    assert_clean(app)
    assert "Temperature does not help" in app.info[0].value and "…" not in app.info[0].value
    assert "(T=10 · T=1/10)" in next(m.label for m in app.metric if m.label.startswith("directions → conf. 1"))
    shares, radii = shown_number(app, "directions → conf. 1"), shown_number(app, "median radius to 0.99")
    run = trained(query)
    far_out = 1e7 * unit_circle(3600)
    for temperature, share, radius in zip((10.0, 0.1), shares, radii):
        brute_share = float(np.mean(numpy_probs(run, far_out, temperature).max(-1) >= 1 - 1e-9))
        assert share == pytest.approx(brute_share, abs=0.01) and share >= 0.9, temperature
        assert radius == pytest.approx(brute_median_radius(run, temperature), rel=0.02), temperature
    assert radii[0] > 10 * radii[1], "farther out at T = 10 than at T = 0.1"


def test_the_playground_reads_the_trained_net_at_the_sidebars_temperature_without_retraining():
    query = {"temperature": "5", **SMALL}
    app = open_link("playground", **query)
    assert_clean(app)
    table = app.table[0].value
    run = trained(query)
    assert run.config.temperature == 1.0, "the app's training config never carries T"
    far = far_test_points(run.config, run.data)
    assert table.loc["MMC far OOD"].iloc[0] == pytest.approx(numpy_probs(run, far, 5.0).max(-1).mean(), abs=2e-4)
    assert table.loc["temperature T"].iloc[0] == 5.0
    cool = open_link("playground", **{**query, "temperature": "1"}).table[0].value
    assert cool.loc["MMC far OOD"].iloc[0] == pytest.approx(numpy_probs(run, far).max(-1).mean(), abs=2e-4)
    assert cool.loc["MMC far OOD"].iloc[0] > table.loc["MMC far OOD"].iloc[0]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_the_bounded_step_shows_each_directions_finite_limit(activation):
    query = {**SCENARIOS["bounded"].link_query(), "activation": activation, **SMALL}
    app = open_link("far-away", **query)
    assert_clean(app)
    run = trained(query)
    assert run.config.activation == activation
    limit = numpy_probs(run, 1e6 * unit_circle(3600)).max(-1)  # tanh and sigmoid saturate long before 10⁶
    mmc, = shown_number(app, "limit MMC")
    confident, = shown_number(app, "directions → conf. ≥ 0.99")
    exactly_one, = shown_number(app, "directions → conf. 1")
    assert mmc == pytest.approx(limit.mean(), abs=2e-3)
    assert confident == pytest.approx(np.mean(limit >= 0.99), abs=0.01)
    assert exactly_one == 0.0 and limit.max() < 1 - 1e-9
    assert any(activation in box.value and "bounded" in box.value for box in app.info)


@pytest.mark.parametrize("page", ["linear-regions", "proof"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_regions_and_the_proof_say_in_one_line_why_a_bounded_net_has_none(page, activation):
    app = open_link(page, activation=activation, **SMALL)
    assert_clean(app)
    reasons = [box.value for box in app.info if "not piecewise affine" in box.value]
    assert len(reasons) == 1 and "\n" not in reasons[0] and f"{activation} net" in reasons[0]
    assert not app.get("plotly_chart")


def test_an_old_leaky_link_still_shows_a_leaky_net():
    app = open_link("linear-regions", leaky="0.2", **SMALL)
    assert_clean(app)
    assert any("leaky-ReLU (0.2)" in caption.value for caption in app.caption)


def plotly_array(value) -> np.ndarray:
    """A trace's coordinates as the chart's JSON holds them: a list, or plotly's typed base64 form."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def moved_traces(app, chart: int = 0) -> dict[str, np.ndarray]:
    """The moved far points drawn on a confidence map, by trace name."""
    traces = json.loads(app.get("plotly_chart")[chart].proto.spec)["data"]
    return {t["name"]: np.stack([plotly_array(t["x"]), plotly_array(t["y"])], 1).reshape(-1, 2)
            for t in traces if t.get("name", "").startswith("moved far point")}


def shown_share(value: str) -> float:
    return float(value.rstrip("%")) / 100


def test_the_attacked_far_points_drawn_stay_in_their_balls_and_the_red_ones_are_the_overconfident_share():
    query = {"attack": "1", **SMALL}
    app = open_link("playground", **query)
    assert_clean(app)
    drawn = moved_traces(app)
    sure, unsure = drawn["moved far point, ≥ 0.99"], drawn["moved far point, < 0.99"]
    assert len(sure) + len(unsure) == 1000
    run = trained(query)
    assert (numpy_probs(run, sure).max(-1) >= 0.99 - 1e-5).all()
    assert (numpy_probs(run, unsure).max(-1) < 0.99 + 1e-5).all()
    far = far_test_points(run.config, run.data)[:1000]
    moved = np.concatenate([sure, unsure])
    inside = np.abs(moved[:, None, :] - far[None]).max(-1) <= 0.5 * np.linalg.norm(far, axis=1)[None] + 1e-3
    assert inside.any(1).all(), "each drawn point lies in the ℓ∞ ball of half the norm of a far test point"
    assert not np.isin(moved, far).all(1).all(), "the points were moved"
    shown = app.table[0].value.loc["moved far OOD ≥ 0.99"].iloc[0]
    assert shown == pytest.approx(len(sure) / 1000, abs=1e-9)
    assert shown > 0.5, "a plain net is overconfident on most attacked far points"


def test_the_ceda_acet_step_draws_the_attacked_points_and_quotes_each_methods_share():
    app = open_link("playground", **SCENARIOS["ceda-acet"].link_query(), **SMALL)
    assert_clean(app)
    note = app.info[0].value
    ceda_acet = [shown_share(v) for v in next(m.value for m in app.metric if m.label.startswith("moved far OOD"))
                 .split(" · ")]
    for method, share in zip(("ceda", "acet"), ceda_acet):
        chart = 1 + ("ceda", "acet").index(method)  # the shared colour bar first
        assert len(moved_traces(app, chart)["moved far point, ≥ 0.99"]) / 1000 == pytest.approx(share, abs=0.006)
    assert re.search(r"of ACET's moved points reach ≥ 0\.99 \(red\), [\d.]+% of CEDA's", note), note


def heatmap_trace(app, chart: int = 0) -> dict:
    return next(t for t in json.loads(app.get("plotly_chart")[chart].proto.spec)["data"] if t["type"] == "heatmap")


def heatmap_values(trace: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A heatmap's z (ny, nx) and its x and y coordinates, as the chart's JSON holds them."""
    z = trace["z"]
    if isinstance(z, dict):
        z = plotly_array(z).reshape([int(n) for n in str(z["shape"]).split(",")])
    z = np.asarray(z, dtype=float)
    if "x" in trace:
        return z, plotly_array(trace["x"]), plotly_array(trace["y"])
    ny, nx = z.shape
    return z, trace["x0"] + trace["dx"] * np.arange(nx), trace["y0"] + trace["dy"] * np.arange(ny)


def numpy_logits(run, x: np.ndarray) -> np.ndarray:
    """f(x) of a ReLU MLP by a float64 numpy forward pass (T = 1)."""
    h = np.asarray(x, dtype=np.float64)
    for layer in run.model.hidden_layers:
        h = np.maximum(h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy(), 0)
    return h @ run.model.head.weight.detach().double().numpy().T + run.model.head.bias.detach().double().numpy()


def test_the_entropy_map_is_the_nets_entropy_on_its_own_scale_from_certain_to_undecided():
    query = {"score": "entropy", "halfwidth": "100", **SMALL}
    app = open_link("playground", **query)
    assert_clean(app)
    trace = heatmap_trace(app)
    assert (trace["zmin"], trace["zmax"]) == (0, pytest.approx(np.log(2)))
    assert trace["colorbar"]["title"]["text"] == "entropy<br>(nats)" and "undecided" in trace["colorbar"]["ticktext"][1]
    assert trace["colorbar"]["title"]["side"] == "top", "the title above the bar, the labels under their ticks"
    z, xs, ys = heatmap_values(trace)
    run = trained(query)
    p = numpy_probs(run, np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2))
    entropy = -(p * np.log(np.where(p > 0, p, 1))).sum(-1).reshape(len(ys), len(xs))
    assert np.abs(z - entropy).max() < 1e-3
    assert z.min() < 0.01 and z.max() > 0.5, "certain far out, undecided near the boundary"


def test_the_metrics_rank_by_the_chosen_score_energy_checked_by_sklearn():
    from sklearn.metrics import roc_auc_score
    query = {"score": "energy", "temperature": "2", **SMALL}
    app = open_link("playground", **query)
    assert_clean(app)
    run = trained(query)
    far = far_test_points(run.config, run.data)

    def negative_energy(x):  # T · logsumexp(f(x) / T), T = 2
        z = numpy_logits(run, x) / 2.0
        top = z.max(-1)
        return 2.0 * (top + np.log(np.exp(z - top[:, None]).sum(-1)))
    scores = np.concatenate([negative_energy(run.data.x_test), negative_energy(far)])
    labels = np.concatenate([np.ones(len(run.data.x_test)), np.zeros(len(far))])
    assert app.table[0].value.loc["AUROC"].iloc[0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-4)
    assert any("negative energy" in caption.value for caption in app.caption)


def test_the_training_scrubber_shows_the_net_at_that_epoch_as_a_shorter_training_gives_it():
    query = {"hidden": "16,16", "epochs": "9", "timeline": "3"}
    app = open_link("playground", **query)
    assert_clean(app)
    slider = next(s for s in app.select_slider if s.label == "Snapshot")
    assert slider.value == 3 and slider.options[-1] == "epoch 9 of 9" and slider.options[3] == "epoch 3 of 9"
    shown = {m.label: shown_share(m.value) for m in app.metric if m.value.endswith("%")}
    state = parse_query(query)[0]
    early = train_toy(dataclasses.replace(state.toy_config("plain"), epochs=3))  # the same first 3 epochs
    far = far_test_points(early.config, early.data)
    assert shown["far OOD ≥ 0.99"] == pytest.approx(np.mean(numpy_probs(early, far).max(-1) >= 0.99), abs=0.006)
    accuracy = np.mean(numpy_probs(early, early.data.x_test).argmax(-1) == early.data.y_test)
    assert shown["test accuracy"] == pytest.approx(accuracy, abs=0.006)
    z, xs, ys = heatmap_values(heatmap_trace(app))
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    assert np.abs(z - numpy_probs(early, grid).max(-1).reshape(z.shape)).max() < 1e-4, "the map is epoch 3's"
    app.button(key="timeline-count").click().run()
    regions = int(next(m.value for m in app.metric if m.label.startswith("Regions")).replace(",", ""))
    layers = [(layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
              for layer in early.model.hidden_layers]
    side = np.linspace(-50, 50, 1200)
    points = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    first = points @ layers[0][0].T + layers[0][1] > 0
    second = np.maximum(points @ layers[0][0].T + layers[0][1], 0) @ layers[1][0].T + layers[1][1] > 0
    sampled = len(np.unique(np.packbits(np.concatenate([first, second], 1), axis=1), axis=0))
    assert 0.8 * regions <= sampled <= regions, "a dense sample of patterns finds most regions, never more"


def test_the_scrubber_is_off_by_default_and_the_link_keeps_the_moment():
    app = open_link("playground", **SMALL)
    assert not [s for s in app.select_slider if s.label == "Snapshot"]
    app = open_link("playground", timeline="2", **SMALL)
    assert_clean(app)
    assert app.query_params.get("timeline") in ("2", ["2"])


def test_the_sidebars_activation_gives_leaky_a_slope_and_takes_it_away_again():
    app = open_link("playground", **SMALL)
    next(w for w in app.get("button_group") if w.proto.label == "Activation").set_value("leaky").run()
    assert_clean(app)
    assert app.query_params.get("activation") in ("leaky", ["leaky"]) and app.query_params.get("leaky") in ("0.1", ["0.1"])
    control = next(w for w in app.get("button_group") if w.proto.label == "Activation")
    control.set_value("tanh").run()
    assert_clean(app)
    assert app.query_params.get("activation") in ("tanh", ["tanh"]) and "leaky" not in app.query_params


def test_moving_the_temperature_slider_reads_the_same_net_and_trains_nothing(monkeypatch):
    from toyood_app import training
    trained_configs = []
    original = training.train_toy_with_source
    monkeypatch.setattr(training, "train_toy_with_source",
                        lambda config, *a, **k: trained_configs.append(config) or original(config, *a, **k))
    app = open_link("playground", **{**SMALL, "seed": "12"})
    before = app.table[0].value.loc["MMC far OOD"].iloc[0]
    app.select_slider(key="w:temperature").set_value(20.0).run()
    assert_clean(app)
    after = app.table[0].value.loc["MMC far OOD"].iloc[0]
    assert len(trained_configs) == 1 and trained_configs[0].temperature == 1.0, "trained once, at T = 1"
    run = trained({**SMALL, "seed": "12"})
    far = far_test_points(run.config, run.data)
    assert after == pytest.approx(numpy_probs(run, far, 20.0).max(-1).mean(), abs=2e-4) and after < before
    assert app.query_params.get("temperature") in ("20", ["20"])


def test_the_proof_walks_the_ray_at_the_sidebars_temperature():
    shown = {}
    for temperature in ("1", "10"):
        app = open_link("proof", temperature=temperature, point="10,20", **SMALL)
        assert_clean(app)
        shown[temperature] = {m.label: m.value for m in app.metric}
    run = trained(SMALL)
    alphas = np.geomspace(1e-3, 1e6, 20000)
    for temperature, figures in shown.items():
        label = next(label for label in figures if label.startswith("Confidence ≥"))
        threshold = float(label.split("≥")[1].split()[0])
        confident = numpy_probs(run, alphas[:, None] * np.array([10.0, 20.0]), float(temperature)).max(-1) >= threshold
        assert float(figures[label]) == pytest.approx(alphas[np.argmax(confident)], rel=2e-3), temperature
        assert figures["Limit confidence (α → ∞)"] == "1"
    reached = {t: float(next(v for label, v in figures.items() if label.startswith("Confidence ≥")))
               for t, figures in shown.items()}
    assert reached["10"] > reached["1"], "a higher T only moves the point where confidence saturates farther out"


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_far_away_with_the_entropy_score_draws_each_directions_limit_entropy(activation):
    query = {"score": "entropy", "activation": activation, **SMALL}
    app = open_link("far-away", **query)
    assert_clean(app)
    spec = next(json.loads(c.proto.spec) for c in app.get("plotly_chart")
                if "entropy" in json.loads(c.proto.spec)["layout"]["title"]["text"].lower())
    trace = spec["data"][0]
    theta, shown = np.radians(plotly_array(trace["x"])), plotly_array(trace["y"])
    p = numpy_probs(trained(query), 1e9 * np.stack([np.cos(theta), np.sin(theta)], 1))
    brute = -(p * np.log(np.where(p > 0, p, 1))).sum(-1)
    assert np.mean(np.abs(shown - brute) > 1e-6) <= 0.01, "the limit is the entropy far out (ties aside)"
    assert (shown.max() < 1e-6) if activation == "relu" else (shown.min() > 0), "0 on a ReLU net, > 0 on tanh"
    assert "undecided" in spec["layout"]["yaxis"]["ticktext"][-1] and "certain" in spec["layout"]["yaxis"]["ticktext"][0]


@pytest.mark.parametrize("slope", ["0.97", "0.999", "-0.1"])
def test_a_link_slope_outside_the_slope_inputs_range_says_so_in_one_line(slope):
    app = open_link(activation="leaky", leaky=slope, **SMALL)  # the first page says what the link got wrong
    problems = [line for box in app.warning for line in box.value.splitlines()]
    assert f"- `leaky={slope}`: expected a number in [0, 0.95]; showing leaky=0 instead" in problems
    app.switch_page(PAGE_FILES["playground"]).run()
    assert not app.exception and not app.error, "a message, not a traceback or a failed training"
    widget = next(w for w in app.number_input if w.label == "Leaky-ReLU slope")
    assert widget.value == 0.1 and widget.proto.max == 0.95, "the default slope, shown in the input's own range"
    assert app.query_params.get("leaky") in ("0.1", ["0.1"])


def test_the_slope_inputs_largest_value_opens_from_a_link_as_it_is():
    app = open_link(activation="leaky", leaky="0.95", **SMALL)
    assert not app.warning
    app.switch_page(PAGE_FILES["playground"]).run()
    assert_clean(app)
    assert next(w for w in app.number_input if w.label == "Leaky-ReLU slope").value == 0.95
