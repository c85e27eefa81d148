"""Adversarial far points (``toyood.attack``): inside the ℓ∞ ball, at least as confident as the start,
the optimum where it is known (an affine net: a corner of the box), and deterministic per seed."""
import numpy as np
import pytest
import torch

from toyood.attack import SHARE, adversarial_far_points, far_adversarial_metrics
from toyood.methods import Plain, RejectClass
from toyood.models import MLP

POINTS = np.random.default_rng(0).uniform(-50, 50, size=(60, 2)).astype(np.float32)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_probs(model, x):
    h = np.asarray(x, dtype=np.float64)
    for layer in model.hidden_layers:
        h = np.maximum(h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy(), 0)
    return softmax(h @ model.head.weight.detach().double().numpy().T + model.head.bias.detach().double().numpy())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MLP((16, 16), 2).eval()


def test_moved_points_stay_in_the_ball_and_gain_confidence(model):
    moved = adversarial_far_points(model, Plain(), POINTS, share=0.1, seed=0)
    radius = 0.1 * np.linalg.norm(POINTS.astype(np.float64), axis=1)
    assert np.all(np.abs(moved - POINTS).max(1) <= radius * (1 + 1e-6))
    before, after = numpy_probs(model, POINTS).max(-1), numpy_probs(model, moved).max(-1)
    assert np.all(after >= before - 1e-6) and np.mean(after > before + 1e-6) > 0.5


def test_affine_net_is_pushed_to_the_best_corner():
    """All hidden units on in the box: the net is affine, the log-confidence monotone in the margin,
    so the optimum is the corner of the ℓ∞ box that widens the margin (brute force over corners)."""
    net = MLP((2,), 2)
    with torch.no_grad():
        net.hidden_layers[0].weight.copy_(torch.eye(2))
        net.hidden_layers[0].bias.fill_(1000.0)
        net.head.weight.copy_(torch.tensor([[0.03, -0.02], [-0.01, 0.025]]))  # margins ~3: no float32 saturation
        net.head.bias.zero_()
    points = np.array([[40.0, -30.0], [-45.0, 35.0], [20.0, -45.0]], dtype=np.float32)
    moved = adversarial_far_points(net.eval(), Plain(), points, share=0.1, steps=40, seed=1)
    for point, got in zip(points, moved):
        r = 0.1 * np.linalg.norm(point.astype(np.float64))
        corners = point + r * np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
        confidence = numpy_probs(net, corners).max(-1)
        np.testing.assert_allclose(got, corners[np.argmax(confidence)], rtol=1e-5)


def test_metrics_match_an_independent_count_and_are_deterministic(model):
    first = far_adversarial_metrics(model, Plain(), POINTS, seed=3)
    again = far_adversarial_metrics(model, Plain(), POINTS, seed=3)
    other = adversarial_far_points(model, Plain(), POINTS, seed=4)
    assert first == again
    assert not np.array_equal(adversarial_far_points(model, Plain(), POINTS, seed=3), other)
    probs = numpy_probs(model, adversarial_far_points(model, Plain(), POINTS, seed=3))
    assert first["far_adv_overconfident"] == pytest.approx(np.mean(probs.max(-1) >= 0.99), abs=1e-9)
    assert first["far_adv_mmc"] == pytest.approx(probs.max(-1).mean(), abs=1e-5)
    assert first["far_adv_eps_share"] == SHARE == 0.5 and first["far_adv_points"] == len(POINTS)


def test_reject_model_counts_only_real_class_predictions():
    torch.manual_seed(5)
    net = MLP((8,), 2, head="reject").eval()
    metrics = far_adversarial_metrics(net, RejectClass(), POINTS, seed=0)
    probs = numpy_probs(net, adversarial_far_points(net, RejectClass(), POINTS, seed=0))
    real = probs.argmax(-1) != 2
    assert metrics["far_adv_overconfident"] == pytest.approx(np.mean(real & (probs[:, :2].max(-1) >= 0.99)))
    assert metrics["far_adv_mmc"] == pytest.approx(probs[:, :2].max(-1).mean(), abs=1e-5)


@pytest.mark.parametrize("share, steps, message", [(0.0, 10, "radius share"), (1.5, 10, "radius share"),
                                                   (0.1, 0, "steps")])
def test_bad_settings_are_refused(model, share, steps, message):
    with pytest.raises(ValueError, match=message):
        adversarial_far_points(model, Plain(), POINTS, share=share, steps=steps)


def test_a_point_is_never_moved_to_lower_confidence(model):
    """One PGD step from a random start can end below the start point's confidence: then x stays."""
    moved = adversarial_far_points(model, Plain(), POINTS, share=0.3, steps=1, seed=2)
    before, after = numpy_probs(model, POINTS).max(-1), numpy_probs(model, moved).max(-1)
    assert np.all(after >= before - 1e-6)


def test_cli_refuses_a_bad_attack_share_in_one_line():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "toyood", "toy", "--attack-share", "1.5", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--attack-share must be in (0, 1]" in done.stderr.strip().splitlines()[-1]
