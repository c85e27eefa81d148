import pytest
import torch

from toyood.images.models import ImageClassifier, LeNet, PreActResNet, build_image_model, default_architecture
from toyood.models import DisMaxHead, n_outputs


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("head,extra", [("linear", 0), ("reject", 1), ("dismax", 0)])
def test_each_head_gives_the_right_number_of_logits(shape, head, extra):
    model = build_image_model(shape, 10, head)
    assert model(torch.rand(3, *shape)).shape == (3, 10 + extra)
    assert n_outputs(model) == 10 + extra


def test_hein_architectures_per_input_size():
    assert default_architecture((1, 28, 28)) == "lenet" and default_architecture((3, 32, 32)) == "resnet"
    lenet = build_image_model((1, 28, 28), 10)
    assert isinstance(lenet.body, LeNet) and lenet.body.dense.in_features == 64 * 7 * 7
    assert lenet.body.dense.out_features == 1024
    resnet = build_image_model((3, 32, 32), 100)
    assert isinstance(resnet.body, PreActResNet) and len(resnet.body.units) == 9
    assert [u.conv1.out_channels for u in resnet.body.units[::3]] == [16, 32, 64]
    assert [u.stride for u in resnet.body.units[::3]] == [1, 2, 2]


def test_body_gives_features_and_the_head_is_swappable():
    model = build_image_model((3, 32, 32), 10, "dismax")
    assert isinstance(model.head, DisMaxHead) and torch.count_nonzero(model.head.prototypes) == 0
    features = model.body(torch.rand(2, 3, 32, 32))
    assert features.shape == (2, 64) and torch.all(features >= 0)
    swapped = ImageClassifier(model.body, 10, "reject")
    assert swapped(torch.rand(2, 3, 32, 32)).shape == (2, 11)


def test_resnet_runs_in_train_and_eval_mode_on_gray_inputs():
    model = build_image_model((1, 28, 28), 10, architecture="resnet")
    model.train()
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    model.eval()
    assert torch.isfinite(model(torch.rand(1, 1, 28, 28))).all()


def test_weights_start_he_normal_with_zero_biases():
    model = build_image_model((1, 28, 28), 10)
    weight = model.body.dense.weight
    assert abs(weight.std().item() - (2 / weight.shape[1]) ** 0.5 * 0.88) < 0.005  # std of a 2σ-truncated normal
    assert torch.count_nonzero(model.body.conv1.bias) == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown head"):
        build_image_model((1, 28, 28), 10, "softmax")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_image_model((1, 28, 28), 10, architecture="vgg")
    with pytest.raises(ValueError, match="divisible by 4"):
        build_image_model((1, 30, 30), 10, architecture="lenet")
