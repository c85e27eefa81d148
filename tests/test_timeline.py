"""Training over time (``toyood.timeline``): snapshots spread evenly, taken without changing training,
each with numbers checked independently (a line-arrangement count, a numpy forward pass)."""
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from toyood.evaluate import toy_metrics
from toyood.models import MLP
from toyood.timeline import region_count, snapshot_epochs, timeline_entries, train_with_timeline
from toyood.toy import ToyConfig, build_model, toy_data, train_toy

CONFIG = ToyConfig(hidden=(8, 8), epochs=6, n_per_class=100, n_far=300, device="cpu")


def test_snapshot_epochs_are_spread_evenly_from_zero_to_the_end():
    assert snapshot_epochs(40, 5) == [0, 10, 20, 30, 40]
    assert snapshot_epochs(40, 1) == [40]
    epochs = snapshot_epochs(7, 8)
    assert epochs == list(range(8))
    assert len(set(snapshot_epochs(200, 20))) == 20
    with pytest.raises(ValueError, match="timeline takes 1 to 8 snapshots"):
        snapshot_epochs(7, 9)


@pytest.fixture(scope="module")
def timeline():
    return train_with_timeline(CONFIG, 4)


def test_snapshots_change_nothing_and_end_at_the_final_net(timeline):
    run, snapshots = timeline
    alone = train_toy(CONFIG)
    for a, b in zip(alone.model.parameters(), run.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [s.epoch for s in snapshots] == [0, 2, 4, 6]
    assert [s.step for s in snapshots] == [0, 4, 8, 12]  # 100 training rows in batches of 64: 2 steps per epoch
    for a, b in zip(snapshots[-1].model.parameters(), run.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(snapshots[0].model.parameters(), build_model(CONFIG, toy_data(CONFIG)).parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_entries_match_the_metrics_and_a_numpy_forward(timeline):
    run, snapshots = timeline
    entries = timeline_entries(run, snapshots)
    assert [sorted(e) for e in entries] == [["epoch", "far_ood_overconfident", "regions", "step", "test_accuracy"]] * 4
    final = toy_metrics(run, alpha_points=5, attack_points=0)
    assert entries[-1]["far_ood_overconfident"] == final["far_ood_overconfident"]
    assert entries[-1]["test_accuracy"] == final["test_accuracy"]
    first = snapshots[0].model
    h = run.data.x_test.astype(np.float64)
    for layer in first.hidden_layers:
        h = np.maximum(h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy(), 0)
    logits = h @ first.head.weight.detach().double().numpy().T + first.head.bias.detach().double().numpy()
    assert entries[0]["test_accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == run.data.y_test))
    assert all(isinstance(e["regions"], int) and e["regions"] > 1 for e in entries)


def test_region_count_of_one_layer_is_the_line_arrangement_formula():
    """n lines in general position: regions in the box = 1 + lines crossing it + crossings inside."""
    torch.manual_seed(4)
    net = MLP((6,), 2)
    with torch.no_grad():
        net.hidden_layers[0].bias.uniform_(-30, 30)
    w = net.hidden_layers[0].weight.detach().double().numpy()
    b = net.hidden_layers[0].bias.detach().double().numpy()
    corners = np.array([[-50, -50], [50, -50], [50, 50], [-50, 50]], dtype=np.float64)
    values = corners @ w.T + b
    crossing = (values.min(0) < 0) & (values.max(0) > 0)
    inside = 0
    for i, j in itertools.combinations(range(len(b)), 2):
        point = np.linalg.solve(w[[i, j]], -b[[i, j]])
        inside += bool(np.all(np.abs(point) < 50))
    assert region_count(net) == 1 + int(crossing.sum()) + inside


def test_bounded_nets_have_no_region_count():
    assert region_count(MLP((4, 4), 2, activation="tanh")) is None


def test_cli_timeline_gives_n_snapshots_and_refuses_bad_counts():
    base = [sys.executable, "-m", "toyood", "toy", "--hidden", "8,8", "--epochs", "12", "--n-far", "200"]
    done = subprocess.run(base + ["--timeline", "10", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    timeline = json.loads(done.stdout.strip().splitlines()[-1])["timeline"]
    assert len(timeline) == 10 and timeline[0]["step"] == 0 and timeline[-1]["step"] == 12 * 16
    for bad, message in [(["--timeline", "0"], "timeline takes 1 to 13"), (["--timeline", "3", "--seeds", "0,1"],
                                                                           "--timeline follows one run")]:
        refused = subprocess.run(base + bad, capture_output=True, text=True)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert message in refused.stderr.strip().splitlines()[-1]
