"""Tests for rnncourse.timeseries: the noisy sine, lag features, the MLP and its predictions."""
import math

import pytest
import torch

from rnncourse.timeseries import (k_step_predictions, k_step_targets, lag_features, make_mlp,
                                  multistep_predictions, noisy_sine, one_step_predictions,
                                  train_regressor)

TAU, N_TRAIN = 4, 600


@pytest.fixture(scope="module")
def trained():
    """The chapter's set-up: T = 1000, tau = 4, trained on the first 600 points."""
    torch.manual_seed(0)
    _, x = noisy_sine(1000, seed=0)
    features, labels = lag_features(x, TAU)
    net = make_mlp(TAU)
    n = N_TRAIN - TAU  # the rows whose labels lie in x[:N_TRAIN]
    losses = train_regressor(net, features[:n], labels[:n], epochs=5, lr=0.01)
    return net, x, losses


# --- the data ---------------------------------------------------------------------------

def test_noisy_sine_shapes_and_time():
    time, x = noisy_sine(50, seed=1)
    assert time.shape == x.shape == (50,)
    assert time.dtype == x.dtype == torch.float32
    assert time[0].item() == 1 and time[-1].item() == 50
    assert torch.equal(torch.diff(time), torch.ones(49))


def test_noisy_sine_without_noise_is_the_sine():
    time, x = noisy_sine(200, noise=0.0, seed=3)
    expected = [math.sin(0.01 * t) for t in range(1, 201)]
    torch.testing.assert_close(x, torch.tensor(expected), rtol=0, atol=1e-6)


def test_noisy_sine_is_reproducible_with_a_seed():
    _, a = noisy_sine(100, seed=7)
    torch.randn(10)  # using the global RNG in between must not matter
    _, b = noisy_sine(100, seed=7)
    _, c = noisy_sine(100, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_noisy_sine_without_seed_uses_the_global_rng():
    torch.manual_seed(5)
    _, a = noisy_sine(100)
    torch.manual_seed(5)
    _, b = noisy_sine(100)
    assert torch.equal(a, b)


def test_noise_has_the_requested_statistics():
    time, x = noisy_sine(200_000, noise=0.2, seed=0)
    residual = x - torch.sin(0.01 * time)
    # The sample std of 2e5 normals has std 0.2 / sqrt(4e5) ~ 3e-4; the mean ~ 4.5e-4.
    assert abs(residual.std().item() - 0.2) < 3e-3
    assert abs(residual.mean().item()) < 3e-3


@pytest.mark.parametrize("kwargs", [{"T": 0}, {"noise": -0.1}])
def test_noisy_sine_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        noisy_sine(**kwargs)


# --- lag features -----------------------------------------------------------------------

def test_lag_features_match_the_definition():
    _, x = noisy_sine(30, seed=2)
    tau = 4
    features, labels = lag_features(x, tau)
    assert features.shape == (26, 4) and labels.shape == (26,)
    for i in range(len(x) - tau):
        assert torch.equal(features[i], x[i:i + tau])
        assert labels[i].item() == x[i + tau].item()


def test_lag_features_do_not_alias_the_series():
    x = torch.arange(10.0)
    features, labels = lag_features(x, 3)
    features[0, 0] = -1.0
    labels[0] = -1.0
    assert torch.equal(x, torch.arange(10.0))


@pytest.mark.parametrize("tau", [0, -1, 10, 11])
def test_lag_features_reject_bad_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        lag_features(torch.arange(10.0), tau)


def test_lag_features_reject_a_non_series():
    with pytest.raises(ValueError, match="1-D"):
        lag_features(torch.zeros(5, 2), 2)
    with pytest.raises(TypeError):
        lag_features([1.0, 2.0, 3.0], 1)


# --- the model and its training ---------------------------------------------------------

def test_make_mlp_shapes():
    net = make_mlp(4, num_hiddens=7)
    assert net(torch.zeros(3, 4)).shape == (3, 1)
    assert net[0].weight.shape == (7, 4) and net[2].weight.shape == (1, 7)
    # Xavier-uniform bound for fan_in 4, fan_out 7
    assert net[0].weight.abs().max().item() <= math.sqrt(6 / (4 + 7))


def test_training_is_reproducible_and_learns(trained):
    net, x, losses = trained
    assert len(losses) == 5
    assert losses[-1] < losses[0]
    torch.manual_seed(0)
    features, labels = lag_features(x, TAU)
    again = train_regressor(make_mlp(TAU), features[:N_TRAIN - TAU], labels[:N_TRAIN - TAU], epochs=5, lr=0.01)
    assert again == losses


def test_train_regressor_rejects_mismatched_shapes():
    net = make_mlp(4)
    with pytest.raises(ValueError, match="shapes"):
        train_regressor(net, torch.zeros(10, 4), torch.zeros(9), epochs=1, lr=0.01)
    with pytest.raises(ValueError, match="epochs"):
        train_regressor(net, torch.zeros(10, 4), torch.zeros(10), epochs=0, lr=0.01)


def test_trained_mlp_beats_naive_forecasts_on_the_test_part(trained):
    net, x, _ = trained
    one_step = one_step_predictions(net, x, TAU)           # predicts x[TAU:]
    test = x[N_TRAIN:]
    mse = ((one_step[N_TRAIN - TAU:] - test) ** 2).mean().item()
    last_value = ((x[N_TRAIN - 1:-1] - test) ** 2).mean().item()     # predict x[t-1]
    train_mean = ((x[:N_TRAIN].mean() - test) ** 2).mean().item()
    assert mse < last_value < train_mean
    assert 0.02 < mse < 0.1  # the noise variance 0.04 is the floor, up to sampling


# --- predictions ------------------------------------------------------------------------

def test_one_step_predictions_apply_the_net_to_each_window(trained):
    net, x, _ = trained
    one_step = one_step_predictions(net, x, TAU)
    assert one_step.shape == (len(x) - TAU,)
    assert one_step[10].item() == pytest.approx(net(x[10:10 + TAU].reshape(1, TAU)).item(), abs=1e-6)


def test_k_step_column_zero_is_the_one_step_prediction(trained):
    net, x, _ = trained
    k = 16
    k_step = k_step_predictions(net, x, TAU, k)
    assert k_step.shape == (len(x) - TAU - k + 1, k)
    torch.testing.assert_close(k_step[:, 0], one_step_predictions(net, x, TAU)[:len(x) - TAU - k + 1])


def test_k_step_row_is_a_hand_rolled_forecast(trained):
    net, x, _ = trained
    k_step = k_step_predictions(net, x, TAU, 8)
    row = 123
    window = x[row:row + TAU].tolist()
    with torch.no_grad():
        for j in range(8):
            window.append(net(torch.tensor(window[-TAU:]).reshape(1, TAU)).item())
            assert k_step[row, j].item() == pytest.approx(window[-1], abs=1e-5)


def test_multistep_is_the_long_k_step_forecast_from_the_last_observed_window(trained):
    net, x, _ = trained
    multistep = multistep_predictions(net, x, TAU, N_TRAIN)
    assert multistep.shape == (len(x) - N_TRAIN,)
    # the one window that starts at N_TRAIN - TAU, forecast len(x) - N_TRAIN steps ahead
    k_step = k_step_predictions(net, x[N_TRAIN - TAU:], TAU, len(x) - N_TRAIN)  # (1, 400)
    torch.testing.assert_close(multistep, k_step[0])
    # the series itself is left untouched
    _, x_again = noisy_sine(1000, seed=0)
    assert torch.equal(x, x_again)


def test_multistep_error_is_far_larger_than_one_step_error(trained):
    net, x, _ = trained
    test = x[N_TRAIN:]
    one_step_mse = ((one_step_predictions(net, x, TAU)[N_TRAIN - TAU:] - test) ** 2).mean()
    multistep_mse = ((multistep_predictions(net, x, TAU, N_TRAIN) - test) ** 2).mean()
    assert multistep_mse > 3 * one_step_mse


def test_k_step_targets_match_the_definition():
    x = torch.arange(20.0)
    targets = k_step_targets(x, 3, 5)
    assert targets.shape == (20 - 3 - 5 + 1, 5)
    for i in range(targets.shape[0]):
        for j in range(5):
            assert targets[i, j].item() == x[i + 3 + j].item()


def test_k_step_error_grows_with_k(trained):
    net, x, _ = trained
    k = 64
    mse = ((k_step_predictions(net, x, TAU, k) - k_step_targets(x, TAU, k)) ** 2).mean(dim=0)  # (k,)
    assert mse[-1] > 2 * mse[0]


@pytest.mark.parametrize("k", [0, 997])
def test_k_step_rejects_bad_k(k):
    x, net = torch.zeros(1000), make_mlp(TAU)
    with pytest.raises(ValueError, match="k must"):
        k_step_predictions(net, x, TAU, k)
    with pytest.raises(ValueError, match="k must"):
        k_step_targets(x, TAU, k)


@pytest.mark.parametrize("n_train", [3, 1000])
def test_multistep_rejects_bad_n_train(n_train):
    with pytest.raises(ValueError, match="n_train"):
        multistep_predictions(make_mlp(TAU), torch.zeros(1000), TAU, n_train)


# --- the argument convention (rnncourse.checks) ----------------------------------------

@pytest.mark.parametrize("call", [
    lambda: noisy_sine(T=True),            # a bool is no length
    lambda: noisy_sine(T=10.0),
    lambda: noisy_sine(noise="0.2"),
    lambda: make_mlp(4.0),
    lambda: lag_features(torch.arange(10.0), 2.0),
    lambda: train_regressor(make_mlp(2), torch.zeros(4, 2), torch.zeros(4), epochs=1.0, lr=0.1),
])
def test_an_argument_of_the_wrong_type_is_a_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_bad_values_are_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="num_hiddens must be at least 1"):
        make_mlp(4, num_hiddens=0)
    with pytest.raises(ValueError, match="lr must be above 0"):
        train_regressor(make_mlp(2), torch.zeros(4, 2), torch.zeros(4), epochs=1, lr=0.0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        train_regressor(make_mlp(2), torch.zeros(4, 2), torch.zeros(4), epochs=1, lr=0.1,
                        batch_size=0)


def test_predictions_run_in_eval_mode_without_gradients_and_restore_the_mode():
    net, x = make_mlp(TAU), torch.linspace(0, 1, 50)
    net.train()
    for predictions in (one_step_predictions(net, x, TAU),
                        multistep_predictions(net, x, TAU, 20),
                        k_step_predictions(net, x, TAU, 3)):
        assert not predictions.requires_grad
    assert net.training
