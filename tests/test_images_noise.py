import numpy as np
import pytest
import scipy.ndimage
import torch

from toyood.images.noise import (NoiseSampler, SIGMA_RANGE, blur_matrix, draw_sigma, hein_noise, low_pass,
                                 permute_pixels, rescale_to_unit, unfiltered_noise)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_noise_is_in_unit_range_with_per_image_min_0_and_max_1(shape):
    noise = hein_noise(torch.rand(10, *shape), 33, generator())
    assert noise.shape == (33, *shape) and noise.dtype == torch.float32
    flat = noise.flatten(1)
    assert torch.all(flat.min(1).values == 0) and torch.all(flat.max(1).values == 1)


def test_permuted_half_keeps_each_pixel_and_its_colour():
    source = torch.rand(1, 3, 8, 8)
    raw = unfiltered_noise(source, 6, generator())
    pixels = lambda image: sorted(map(tuple, image.flatten(1).T.tolist()))  # (r, g, b) tuples
    for image in raw[:3]:
        assert pixels(image) == pixels(source[0])
        assert not torch.equal(image, source[0])
    assert not any(pixels(image) == pixels(source[0]) for image in raw[3:])


def test_permutation_is_one_per_image_shared_by_channels():
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4).repeat(1, 3, 1, 1)
    x[:, 1] += 100
    out = permute_pixels(x, generator())
    assert torch.equal(out[:, 1] - 100, out[:, 0]) and torch.equal(out[:, 2], out[:, 0])
    assert not torch.equal(out[0, 0], out[1, 0] - 16)  # each image has its own permutation


def test_same_seed_same_noise_other_seed_other_noise():
    pool = torch.rand(20, 1, 28, 28)
    assert torch.equal(hein_noise(pool, 16, generator(4)), hein_noise(pool, 16, generator(4)))
    assert not torch.equal(hein_noise(pool, 16, generator(4)), hein_noise(pool, 16, generator(5)))


def test_sigma_is_drawn_once_per_batch_in_range():
    sigmas = [draw_sigma(generator(seed)) for seed in range(50)]
    assert SIGMA_RANGE[0] <= min(sigmas) and max(sigmas) <= SIGMA_RANGE[1]
    assert max(sigmas) - min(sigmas) > 1.2  # covers the range
    pool = torch.rand(5, 1, 28, 28)
    g = generator(7)
    raw, sigma = unfiltered_noise(pool, 8, g), draw_sigma(g)
    torch.testing.assert_close(hein_noise(pool, 8, generator(7)), rescale_to_unit(low_pass(raw, sigma)))


def test_low_pass_matches_scipy_gaussian_filter_with_symmetric_borders():
    x = torch.rand(2, 3, 28, 32, dtype=torch.float64)
    expected = scipy.ndimage.gaussian_filter(x.numpy(), (0, 0, 1.7, 1.7), mode="reflect", truncate=7 / 1.7)
    np.testing.assert_allclose(low_pass(x, 1.7).numpy(), expected, atol=1e-6)


def test_blur_matrix_rows_sum_to_one_and_repeat_the_edge():
    matrix = blur_matrix(10, 2.0)
    torch.testing.assert_close(matrix.sum(1), torch.ones(10))
    edge = torch.zeros(10)
    edge[0] = 1.0
    # symmetric padding mirrors pixel 0 onto itself, so it weighs more than its neighbour does
    assert matrix[0] @ edge > matrix[1] @ edge


def test_noise_sampler_draws_from_its_pool_and_checks_arguments():
    sampler = NoiseSampler(torch.rand(4, 1, 28, 28))
    assert sampler(10, generator()).shape == (10, 1, 28, 28)
    assert sampler(1, generator()).shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match="permuted_fraction"):
        NoiseSampler(torch.rand(4, 1, 28, 28), permuted_fraction=1.5)
    with pytest.raises(ValueError, match="sigma_range"):
        NoiseSampler(torch.rand(4, 1, 28, 28), sigma_range=(2.0, 1.0))


def test_constant_image_rescales_to_zeros_not_nan():
    out = rescale_to_unit(torch.full((1, 1, 4, 4), 0.3))
    assert torch.equal(out, torch.zeros(1, 1, 4, 4))
