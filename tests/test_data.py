import numpy as np
import pytest

from toyood import data


def test_split_is_stratified_and_seeded():
    a = data.make_toy_data(sigma=1.0, n_per_class=1000, seed=3)
    b = data.make_toy_data(sigma=1.0, n_per_class=1000, seed=3)
    assert len(a.x_train) == len(a.x_test) == 1000
    assert np.bincount(a.y_train).tolist() == [500, 500]
    assert np.bincount(a.y_test).tolist() == [500, 500]
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, data.make_toy_data(seed=4).x_train)


def test_class_means_and_spread_match_sigma():
    d = data.make_toy_data(sigma=2.0, n_per_class=20000, seed=0)
    for k, mean in enumerate(data.MEANS):
        points = np.concatenate([d.x_train[d.y_train == k], d.x_test[d.y_test == k]])
        np.testing.assert_allclose(points.mean(0), mean, atol=0.05)
        np.testing.assert_allclose(points.std(0), [2.0, 2.0], rtol=0.03)


def test_boundary_ring_is_area_uniform_in_the_annulus():
    sigma, width = 1.5, 1.0
    x = data.boundary_ring(40000, sigma, np.random.default_rng(0), width)
    centre = data.MEANS[np.arange(len(x)) % 2]
    r = np.linalg.norm(x - centre, axis=1)
    assert r.min() >= 3 * sigma - 1e-4 and r.max() <= 3 * sigma + width + 1e-4
    # area-uniform: P(r <= t) = (t² − a²)/(b² − a²)
    a, b = 3 * sigma, 3 * sigma + width
    t = a + width / 2
    assert abs(np.mean(r <= t) - (t**2 - a**2) / (b**2 - a**2)) < 0.01
    assert abs(np.mean(np.arange(len(x)) % 2 == 0) - 0.5) < 1e-9


def test_general_ood_is_outside_discs_and_inside_box():
    x = data.sample_ood("general", 5000, 1.0, seed=0)
    assert data.is_ood(x, 1.0).all()
    assert np.abs(x).max() <= 50


def test_far_test_set_is_independent_of_training_pool():
    pool = data.sample_ood("general", 1000, 1.0, seed=0)
    far = data.far_test_ood(1000, 1.0, seed=0)
    assert not np.allclose(pool, far)
    assert data.is_ood(far, 1.0).all()


@pytest.mark.parametrize("bad", [dict(sigma=0), dict(sigma=-1), dict(n_per_class=1)])
def test_bad_arguments_are_rejected(bad):
    with pytest.raises(ValueError):
        data.make_toy_data(**bad)


def test_unknown_ood_source_names_the_choices():
    with pytest.raises(ValueError, match="boundary, general"):
        data.sample_ood("nope", 10, 1.0, 0)
