"""``toyood.evaluate`` beyond test_evaluate.py, from the mutation run's survivors: the grid's
confidence, prediction and entropy recomputed with numpy from its probabilities and the net itself."""
import numpy as np
import torch

from toyood.evaluate import evaluate_grid
from toyood.methods import RejectClass
from toyood.models import MLP


def test_grid_entropy_confidence_and_prediction_follow_from_the_probabilities():
    torch.manual_seed(0)
    model = MLP((16, 16), 2, "reject").eval()
    grid = evaluate_grid(model, RejectClass(), 20.0, resolution=12)
    p = grid.probs.astype(np.float64)
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    with torch.no_grad():
        direct = torch.softmax(model(torch.tensor(np.stack([xx, yy], -1).reshape(-1, 2), dtype=torch.float32)), -1)
    np.testing.assert_allclose(p.reshape(-1, 3), direct.numpy(), atol=1e-5)
    np.testing.assert_allclose(grid.entropy, -(p * np.log(p)).sum(-1), atol=1e-5)
    np.testing.assert_allclose(grid.confidence, p[..., :2].max(-1), atol=1e-6)  # outputs 0, 1 real; 2 reject
    np.testing.assert_array_equal(grid.predicted, p.argmax(-1))
    assert grid.entropy.std() > 0.01  # not a constant map
