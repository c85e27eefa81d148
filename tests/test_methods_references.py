"""``toyood.methods`` beyond test_methods.py, from the mutation run's survivors: PGD leaves a
coordinate without gradient where it started; the refusals name every allowed value."""
import pytest
import torch

from toyood.methods import CEDA, method_by_name, pgd_ascend


def test_pgd_moves_only_along_coordinates_with_a_gradient():
    """objective(u) = u₀: four steps of 0.25 reach the ε = 1 edge in u₀; u₁ has no gradient (sign 0)
    and stays at its start, 0 (worked by hand)."""
    x = torch.zeros(3, 2)
    best = pgd_ascend(lambda u: u[:, 0], x, x.clone(), eps=1.0, steps=4, step_size=0.25)
    torch.testing.assert_close(best, torch.tensor([[1.0, 0.0]] * 3), rtol=0, atol=0)


def test_an_unknown_method_is_refused_with_the_list_of_methods():
    with pytest.raises(ValueError, match=r"^unknown method 'svm'; choose one of plain, confidence, ceda, acet, "
                                         r"reject, dismax, rbf$"):
        method_by_name("svm")


def test_an_unknown_ceda_objective_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"^CEDA objective must be one of max_conf, uniform, got 'x'$"):
        CEDA(objective="x")
