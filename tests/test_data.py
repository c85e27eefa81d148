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


@pytest.mark.parametrize("dataset,k", [("gaussians", 3), ("gaussians", 5), ("moons", 2), ("rings", 3),
                                       ("spiral", 3), ("xor", 2)])
def test_every_data_set_is_balanced_seeded_and_its_ood_samplers_stay_outside(dataset, k):
    d = data.make_toy_data(1.0, 200, 7, dataset, k)
    assert d.n_classes == k and d.x_train.shape == (100 * k, 2) and d.x_test.shape == (100 * k, 2)
    assert np.bincount(d.y_train).tolist() == [100] * k and np.bincount(d.y_test).tolist() == [100] * k
    np.testing.assert_array_equal(d.x_train, data.make_toy_data(1.0, 200, 7, dataset, k).x_train)
    assert not np.array_equal(d.x_train, data.make_toy_data(1.0, 200, 8, dataset, k).x_train)
    assert np.abs(d.points).max() < 25
    for kind in data.OOD_SOURCES:
        pool = data.sample_ood(kind, 500, 1.0, 0, data=d)
        assert pool.shape == (500, 2) and data.is_ood(pool, 1.0, d).all()
    boundary = data.sample_ood("boundary", 500, 1.0, 0, data=d)
    assert data.distance_to_data(boundary, d).max() <= 3.0 + 1.0 + 1e-4
    assert data.is_ood(data.far_test_ood(500, 1.0, 0, data=d), 1.0, d).all()


def test_k_gaussian_means_lie_on_the_circle_and_two_are_the_papers():
    np.testing.assert_array_equal(data.gaussian_means(2), data.MEANS)
    means = data.gaussian_means(5)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 10.0)
    np.testing.assert_allclose(means[0], [-10.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("dataset,k", [("moons", 3), ("xor", 4), ("gaussians", 1), ("gaussians", 11), ("blobs", 2)])
def test_impossible_data_sets_are_refused(dataset, k):
    with pytest.raises(ValueError):
        data.make_toy_data(1.0, 100, 0, dataset, k)


GOOD_CSV = "x,y,label\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(30))


def test_a_csv_is_read_and_scaled_into_the_box():
    x, y, scale = data.points_from_csv(GOOD_CSV.encode())
    assert x.shape == (30, 2) and sorted(set(y.tolist())) == [0, 1, 2]
    assert np.abs(x).max() == pytest.approx(data.DATA_RADIUS) and scale == pytest.approx(15 / 29)
    no_header = data.points_from_csv(GOOD_CSV.split("\n", 1)[1])
    np.testing.assert_array_equal(no_header[0], x)


@pytest.mark.parametrize("content,message", [
    ("x,y\n1,2\n3,4\n", "2 columns"),
    ("x,y,label\n1,2,a\n3,4,1\n", "not numeric"),
    ("1,2,0\nnan,4,1\n5,6,1\n7,8,0\n", "NaN"),
    ("1,2,0\ninf,4,1\n5,6,1\n7,8,0\n", "infinite"),
    ("1,2,0\n3,4,0\n", "one class"),
    ("1,2,0\n3,4,2\n5,6,0\n7,8,2\n", "0..K"),
    ("1,2,0.5\n3,4,1\n", "whole numbers"),
    ("1,2,0\n3,4,1\n5,6,1\n", "at least two points"),
    ("", "no rows"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    ("1,2,0\n" * 100_001, "at most 100,000"),
])
def test_bad_csv_files_say_what_is_wrong(content, message):
    with pytest.raises(data.DataFileError, match=message):
        data.points_from_csv(content)


@pytest.mark.parametrize("content,line", [
    ("x,y,label\n1,2,0\n3,abc,1\n", 3),        # the header is a line
    ("1,2,0\n\n\n3,abc,1\n", 4),               # so are blank lines
    ("x,y,label\n1,2,0\n3,4\n", 3),
    ("x,y,label\n1,2,0\n\n3,nan,1\n", 4),
    ("1,2,0\n3,4,1\n5,6,1.5\n", 3),
])
def test_csv_problems_name_the_line_an_editor_shows(content, line):
    with pytest.raises(data.DataFileError, match=rf"^line {line}\b"):
        data.points_from_csv(content)
