"""``theta.models.CNN``: shapes, PyTorch's numbers, saving, and ≥ 98% on the held-out digits."""

import functools

import numpy as np
import pytest

import theta
from theta import data, io
from theta.data import train_test_split
from theta.estimators import ModuleClassifier
from theta.models import CNN
from theta.optim.schedules import cosine_with_warmup
from theta.train import LRScheduler, fit


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits as (n, 1, 8, 8) images in [0, 1], and a stratified, seeded quarter."""
    d = data.load_digits()
    images = (d.X / 16.0).reshape(-1, *data.dataset_info("digits").image_shape)
    return train_test_split(images.astype(np.float32), d.y, test_size=0.25, stratify=d.y,
                            random_state=0)  # fmt: skip


def test_held_out_accuracy_is_at_least_98_percent(digits):
    X_train, X_test, y_train, y_test = digits
    mean, std = X_train.mean(), X_train.std()  # one scale for every pixel, as for any image
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    model = CNN((1, 8, 8), 10, channels=(32, 64), hidden=(128,), dropout=0.25, rng=0)
    epochs, steps_per_epoch = 15, -(-len(X_train) // 32)
    schedule = functools.partial(cosine_with_warmup, base_lr=3e-3, warmup=0,
                                 total=epochs * steps_per_epoch)  # fmt: skip
    fit(model, X_train, y_train, loss="cross_entropy", optimizer="adam", lr=3e-3, epochs=epochs,
        batch_size=32, seed=0, callbacks=[LRScheduler(schedule)], progress=False)  # fmt: skip
    model.eval()
    with theta.no_grad():
        predicted = model(theta.tensor(X_test)).numpy().argmax(axis=1)
    assert (predicted == y_test).mean() >= 0.98


def test_module_classifier_learns_the_images(digits):
    X_train, X_test, y_train, y_test = digits
    clf = ModuleClassifier(CNN(channels=(8, 16), hidden=(32,), rng=0), lr=3e-3, epochs=5,
                           random_state=0)  # fmt: skip
    clf.fit(X_train, y_train)
    assert clf.n_features_in_ == 1  # the images' first axis after the samples: the channels
    assert clf.score(X_test, y_test) >= 0.9
    assert clf.predict_proba(X_test[:3]).shape == (3, 10)


def test_matches_torch_on_the_same_weights():
    torch = pytest.importorskip("torch")
    net = CNN((2, 8, 6), 3, channels=(4, 5), hidden=(7,), rng=0, dtype=np.float64)
    twin = torch.nn.Module()
    twin.features = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding="same", bias=False), torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 5, 3, padding="same", bias=False), torch.nn.BatchNorm2d(5),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    )  # fmt: skip
    twin.classifier = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(5 * 2 * 1, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)
    )
    twin = twin.double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 2, 8, 6))
    want = twin.classifier(twin.features(torch.from_numpy(x)))
    got = net(x)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    got.sum().backward()
    want.sum().backward()
    for name, p in net.named_parameters():
        torch_grad = dict(twin.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(p.grad, torch_grad, rtol=1e-8, atol=1e-10, err_msg=name)


def test_flat_rows_are_images_and_float32_stays_float32():
    net = CNN((1, 8, 8), 4, channels=(3,), hidden=(5,), rng=0)
    images = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    net.eval()
    out = net(images)
    assert out.shape == (2, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(net(images.reshape(2, 64)).numpy(), out.numpy())


def test_options_change_the_layers():
    net = CNN((3, 16, 16), 2, channels=(4, 4, 4), hidden=(8, 6), batch_norm=False,
              activation="tanh", dropout=0.5, rng=0)  # fmt: skip
    kinds = [type(m).__name__ for m in net.features.layers]
    assert kinds == ["Conv2d", "Tanh", "MaxPool2d"] * 3
    assert net.features[0].bias is not None
    head = [type(m).__name__ for m in net.classifier.layers]
    assert head == ["Flatten", "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert net.classifier[1].weight.shape == (8, 4 * 2 * 2)


def test_saves_and_loads_with_its_hyperparameters(tmp_path):
    net = CNN((1, 8, 8), 3, channels=(2,), hidden=(4,), rng=0)
    net.train()
    net(np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32))  # running stats move
    io.save(net, tmp_path / "cnn")
    again = io.load(tmp_path / "cnn")
    assert again.hyperparameters() == net.hyperparameters()
    x = np.random.default_rng(1).random((2, 1, 8, 8), dtype=np.float32)
    net.eval()
    again.eval()
    np.testing.assert_array_equal(again(x).numpy(), net(x).numpy())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"in_shape": (8, 8)}, r"in_shape must be three positive ints"),
        ({"in_shape": (1, 0, 8)}, r"in_shape must be three positive ints"),
        ({"kernel_size": 2}, r"kernel_size must be odd"),
        ({"in_shape": (1, 4, 4), "channels": (2, 2, 2)}, r"halve an image of 4x4 to nothing"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CNN(**kwargs)


def test_wrong_input_shape_names_both():
    net = CNN((1, 8, 8), 2, channels=(2,), hidden=(2,), rng=0)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\) or rows of 64 pixels \(got shape"):
        net(np.zeros((2, 3, 8, 8)))
