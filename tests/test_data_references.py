"""``toyood.data`` beyond test_data.py, from the mutation run's survivors: the shapes' geometry
worked by hand (σ = 1e-9, so every point is on its curve), the split's types, the far test box."""
import numpy as np
import pytest

from toyood.data import far_test_ood, make_toy_data


def all_points(data):
    return np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])


def test_moons_are_half_circles_of_radius_10_about_their_centres():
    """Class 0: radius 10 about (−5, −2.5), upper half; class 1: radius 10 about (5, 2.5), lower half."""
    x, y = all_points(make_toy_data(sigma=1e-9, n_per_class=200, seed=1, dataset="moons"))
    x = x.astype(np.float64)
    for label, centre, side in [(0, (-5.0, -2.5), 1), (1, (5.0, 2.5), -1)]:
        offset = x[y == label] - centre
        np.testing.assert_allclose(np.hypot(offset[:, 0], offset[:, 1]), 10.0, atol=1e-5)
        assert np.all(side * offset[:, 1] >= -1e-5)


def test_the_split_keeps_sigma_and_float32_points_and_int64_labels():
    data = make_toy_data(sigma=1.75, n_per_class=20, seed=2, dataset="xor")
    assert data.sigma == 1.75 and data.margin == pytest.approx(3 * 1.75)
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.y_train.dtype == data.y_test.dtype == np.int64
    assert len(data.x_train) == len(data.x_test) == 2 * 10


def test_the_far_test_set_fills_the_box_of_half_width_50():
    points = far_test_ood(4000, 1.0, seed=3)
    assert np.abs(points).max() <= 50.0 and np.abs(points).max() > 49.5
    wider = far_test_ood(4000, 1.0, seed=3, box=80.0)
    assert np.abs(wider).max() > 79.0
