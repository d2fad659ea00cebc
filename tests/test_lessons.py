"""Each lesson's own behaviour, as the course's lab shows it, shown by running the lesson's lab.

Labs whose full epoch count takes more than a few seconds here run with fewer epochs (or a smaller data set) where
the behaviour still shows; each such override says so.
"""

import numpy as np
import pytest
import torch

from models import LESSONS


def run(lesson_id, setting=None, **kwargs):
    return LESSONS[lesson_id].run(setting, **kwargs)


def test_every_section_of_the_course_is_a_lesson_in_order():
    ids = [f"{w}.{s}" for w, n in ((1, 5), (2, 9), (3, 3), (4, 4), (5, 5), (6, 5)) for s in range(1, n + 1)]
    assert list(LESSONS) == ids
    for lesson in LESSONS.values():
        assert lesson.title and lesson.summary


def test_bad_settings_backends_and_overrides_name_the_problem():
    with pytest.raises(ValueError, match="has no setting 'adam'; its settings: mse, cross_entropy"):
        run("3.3", "adam")
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        run("2.8", backend="jax")
    with pytest.raises(TypeError, match=r"unknown overrides \['epoch'\]"):
        run("2.8", epoch=3)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device is available"):
            run("2.8", device="cuda")


# ---- week 1 ----


def test_1_1_results_equal_numpy():
    torch_out, numpy_out = run("1.1", "torch", n=1000).outputs, run("1.1", "numpy", n=1000).outputs
    for op in ("add", "mul", "exp", "sum", "mean", "std", "dot"):
        torch.testing.assert_close(torch_out[op].double(), numpy_out[op].double(), rtol=1e-5, atol=1e-6)


def test_1_2_mm_of_the_labs_matrices():
    out = run("1.2").outputs
    torch.testing.assert_close(out["mm"], torch.tensor([[0.0, 2.0], [0.0, 2.0]]))
    torch.testing.assert_close(out["hadamard"], torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    torch.testing.assert_close(out["mm_n"], out["square"] @ out["square"])


@pytest.mark.parametrize("setting", ["builtin", "custom_function"])
def test_1_3_gradients_equal_the_analytic_derivatives(setting):
    out = run("1.3", setting).outputs
    assert out["x^2 at 2"] == 4.0 and out["x^2+2x+1 at 2"] == 6.0 and out["2x^3+x at 1"] == 7.0
    assert out["uv+u^2 at (1,2)"] == [4.0, 1.0]  # d/du = v + 2u, d/dv = u
    x, dx = out["x^2 on linspace"]
    torch.testing.assert_close(dx, 2 * x)
    r, dr = out["relu on linspace"]
    torch.testing.assert_close(dr, (r > 0).float())


@pytest.mark.parametrize("setting", ["per_sample", "batched"])
def test_1_4_composed_transforms_give_the_labs_values_and_order_matters(setting):
    out = run("1.4", setting).outputs
    first, second = out["add_mult then mult"], out["mult then add_mult"]
    assert torch.all(first["x"] == 300) and torch.all(first["y"] == 200)  # (2 + 1) * 100, 1 * 2 * 100
    assert torch.all(second["x"] == 201) and torch.all(second["y"] == 200)  # 2 * 100 + 1, 1 * 100 * 2
    assert first["x"].shape == (100, 2)


def test_1_5_center_crop_gives_1x20x20_through_the_loader():
    out = run("1.5", "workers=0", images=64).outputs
    assert out["first_shape"] == (1, 20, 20) and out["samples"] == 64 and out["samples_per_s"] > 0


# ---- week 2 ----


@pytest.mark.parametrize("setting", ["formula", "nn_linear", "custom_module"])
def test_2_1_all_three_predictions_agree(setting):
    torch.testing.assert_close(run("2.1", setting).outputs["yhat"], torch.tensor([[1.0], [3.0], [5.0]]))


def test_2_2_w_moves_toward_minus_3_and_cost_falls():
    r = run("2.2")
    assert np.all(np.diff(r.history["loss"]) < 0)
    assert abs(r.final["w"] + 3) < abs(-10 + 3) / 10


def test_2_3_cost_falls_monotonically_toward_1_and_minus_1_and_2_4_matches_step_for_step():
    by_hand, autograd = run("2.3"), run("2.4")
    assert np.all(np.diff(by_hand.history["loss"]) < 0)
    assert abs(by_hand.final["w"] - 1) < 0.1 and abs(by_hand.final["b"] + 1) < 0.5
    for key in ("loss", "w", "b"):
        np.testing.assert_allclose(by_hand.history[key], autograd.history[key], rtol=1e-5)


def test_2_5_both_converge_and_sgd_makes_60_updates_per_epoch():
    gd, sgd = run("2.5", "batch_gd"), run("2.5", "sgd")
    assert sgd.history["updates"] == [60] * 10 and gd.history["updates"] == [1] * 10
    for r in (gd, sgd):
        assert r.history["loss"][-1] < r.history["loss"][0] / 10


def test_2_6_total_loss_falls_by_orders_of_magnitude():
    loss = run("2.6").history["loss"]
    assert loss[-1] < loss[0] / 100


def test_2_7_larger_batches_make_fewer_updates_and_lower_the_loss_slower_per_epoch():
    runs = {b: run("2.7", f"batch={b}") for b in (1, 5, 10, 20)}
    assert [runs[b].history["updates"][0] for b in (1, 5, 10, 20)] == [60, 12, 6, 3]
    # from batch 5 up, each doubling leaves a higher loss after the first epoch; batch 1 is no fair point of the
    # comparison at lr 0.1: single samples with |x| near 3 overshoot (each step scales w's error by 1 - 0.2 x^2)
    first_epoch = [runs[b].history["loss"][0] for b in (5, 10, 20)]
    assert first_epoch == sorted(first_epoch), first_epoch
    assert all(runs[b].final["loss"] < 0.05 for b in runs)


def test_2_8_ends_near_the_line():
    r = run("2.8")
    assert abs(r.final["w"] - 1) < 0.1 and abs(r.final["b"] + 1) < 0.1


def test_2_9_the_best_learning_rate_is_chosen_by_validation_error():
    r = run("2.9", "sweep")
    val = r.outputs["val_error"]
    assert set(val) == {0.0001, 0.001, 0.01, 0.1}
    assert r.final["best_lr"] == min(val, key=val.get)
    assert r.final["val_error"] < r.final["train_error"]  # the outliers are in the training data only


# ---- week 3 ----


def test_3_1_prediction_and_validation_error_near_the_noise_floor():
    r = run("3.1")
    torch.testing.assert_close(r.outputs["prediction"], torch.tensor([[6.0], [9.0], [12.0]]))
    assert r.final["val_loss"] < 0.03  # noise std 0.1: MSE floor 0.01


def test_3_2_two_outputs_loss_goes_to_about_0():
    assert run("3.2").final["loss"] < 1e-3


def test_3_3_mse_gets_stuck_from_the_bad_start_and_cross_entropy_does_not():
    assert run("3.3", "mse").final["accuracy"] < 0.8
    assert run("3.3", "cross_entropy").final["accuracy"] == 1.0


# ---- week 4 ----


def test_4_1_softmax_prediction_is_accurate():
    assert run("4.1").final["accuracy"] > 0.9


def test_4_2_the_lessons_formula_overflows_where_the_stable_softmax_does_not():
    naive, stable = run("4.2", "lesson").outputs["softmax"], run("4.2", "eager").outputs["softmax"]
    assert naive[1].isnan().any() and torch.isfinite(stable).all()
    torch.testing.assert_close(naive[0], stable[0])


def test_4_3_softmax_classifier_beats_chance_by_far():
    assert run("4.3", epochs=60).final["val_accuracy"] > 0.85  # 900 of the lab's 6000 updates already show it


def test_4_4_one_hidden_unit_cannot_solve_xor_two_and_four_can():
    # the lab's 500 epochs take 25 s per net here; 60 already separate the corners
    assert run("4.4", "xor-1", epochs=60).final["accuracy"] < 0.9
    assert run("4.4", "xor-2", epochs=60).final["accuracy"] == 1.0
    assert run("4.4", "xor-4", epochs=60).final["accuracy"] == 1.0


def test_4_4_relu_and_tanh_rank_ahead_of_sigmoid_on_digits():
    acc = {a: run("4.4", a).final["val_accuracy"] for a in ("sigmoid", "tanh", "relu")}
    assert min(acc["relu"], acc["tanh"]) > acc["sigmoid"], acc


def test_4_4_the_bump_nets_fit_their_data():
    assert run("4.4", "1-9-1").final["accuracy"] > 0.95
    assert run("4.4", "1-2-1", epochs=300).final["accuracy"] > 0.9  # the lab runs 1000 per-sample epochs


# ---- week 5 ----


def test_5_1_relu_and_tanh_learn_faster_than_sigmoid_and_the_spiral_separates():
    acc = {a: run("5.1", a).final["val_accuracy"] for a in ("sigmoid", "tanh", "relu")}
    assert min(acc["relu"], acc["tanh"]) > acc["sigmoid"], acc
    # the lab's [2, 50, 3] net at lr 0.1 (its other net, [2, 10, 10, 3], needs 1000 epochs)
    assert run("5.1", "spiral", layers=(2, 50, 3), lr=0.1, epochs=100).final["accuracy"] > 0.7


def test_5_2_dropout_is_on_in_train_and_off_in_eval_and_narrows_the_gap():
    r = run("5.2", "p=0.5", epochs=200)
    model = r.model
    x = torch.linspace(-1, 1, 40).view(-1, 1)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
    gaps = {}
    for setting in ("p=0", "p=0.5"):
        hist = run("5.2", setting, epochs=200).history
        gaps[setting] = hist["val_loss"][-1] - hist["loss"][-1]
    assert gaps["p=0.5"] < gaps["p=0"], gaps


def test_5_3_same_value_initialization_keeps_the_hidden_units_identical():
    model = run("5.3", "same", epochs=50).model
    w, b = model.linear1.weight.detach(), model.linear1.bias.detach()
    assert torch.equal(w[0], w[1]) and torch.equal(b[0], b[1])
    assert not torch.equal(w, torch.ones_like(w))  # it did train


def test_5_3_uniform_initialization_trains_far_worse():
    acc = {s: run("5.3", s).final["val_accuracy"] for s in ("uniform", "default", "xavier")}
    assert acc["uniform"] < 0.2 and min(acc["default"], acc["xavier"]) > acc["uniform"] + 0.2, acc
    acc = {s: run("5.3", s, epochs=10).final["val_accuracy"] for s in ("uniform_relu", "he")}
    assert acc["uniform_relu"] < 0.2 < acc["he"] - 0.3, acc


def test_5_4_momentum_escapes_the_quartics_local_minimum():
    plain, momentum = run("5.4", "quartic-m0"), run("5.4", "quartic-m0.9")
    assert abs(plain.final["w"] - 4) < 0.1  # the local minimum
    assert abs(momentum.final["w"] + 2) < 0.1 and momentum.final["loss"] < plain.final["loss"] - 100


def test_5_4_some_momentum_lowers_the_spirals_loss():
    losses = {m: run("5.4", f"spiral-m{m}", epochs=40).final["loss"] for m in (0, 0.5)}
    assert losses[0.5] < losses[0], losses


def test_5_5_batch_norm_reaches_a_lower_loss_faster_and_switches_statistics():
    bn, plain = run("5.5", "batchnorm", epochs=2), run("5.5", "plain", epochs=2)
    assert bn.history["loss"][0] < plain.history["loss"][0] and bn.final["val_loss"] < plain.final["val_loss"]
    model, x = bn.model, torch.rand(8, 64)
    model.eval()
    # running statistics: each sample on its own (up to the GEMM's rounding, whose blocking depends on the batch)
    torch.testing.assert_close(model(x[:4]), model(x)[:4], rtol=1e-6, atol=1e-6)
    model.train()
    assert not torch.allclose(model(x[:4]), model(x)[:4])  # batch statistics


# ---- week 6 ----


def test_6_1_to_6_3_give_the_hand_computed_outputs():
    line = [[-4.0, 0.0, 4.0]] * 3
    expected = {
        ("6.1", "sobel"): line,
        ("6.1", "stride=1"): [[4.0] * 3] * 3,
        ("6.1", "stride=2"): [[4.0] * 2] * 2,
        ("6.1", "stride=3"): [[4.0]],
        ("6.1", "stride=3,pad=1"): [[1.0, 2.0], [2.0, 4.0]],
        ("6.2", "relu"): [[0.0, 0.0, 4.0]] * 3,
        ("6.2", "maxpool-s1"): [[2.0, 3.0, 3.0]] * 3,
        ("6.2", "maxpool-s2"): [[2.0, 3.0]] * 2,
        ("6.3", "1to3"): [line, [[0.0] * 3] * 3, [[3.0] * 3] * 3],
        ("6.3", "2to1"): [[[-8.0, -4.0, 0.0], [-4.0, 0.0, 4.0], [0.0, 4.0, 8.0]]],
    }
    for (lesson_id, setting), want in expected.items():
        out = run(lesson_id, setting).outputs["output"][0]
        want = torch.tensor(want)
        torch.testing.assert_close(out, want.view(-1, *want.shape[-2:]), msg=f"{lesson_id} {setting}")


def test_6_4_the_bars_cnn_separates_the_classes():
    # the lab's 10 epochs of 10000 images; 8 epochs of 2000 show it. The second convolution has one channel: from
    # some initializations its relu dies at once and the net answers one class (seeds 0 and 2 here), so the
    # behaviour is asked of the best of three seeds, and the dead runs must be exactly at chance
    runs = [run("6.4", "bars", train=2000, validation=500, epochs=8, seed=s).final["val_accuracy"] for s in range(3)]
    assert max(runs) > 0.9, runs
    assert all(a > 0.9 or abs(a - 0.5) < 0.05 for a in runs), runs


def test_6_4_the_digits_cnn_beats_the_softmax_classifier_and_batch_norm_converges_faster():
    softmax = run("4.3", epochs=60).final["val_accuracy"]
    cnn = run("6.4", "digits", epochs=30)  # 450 of the lab's 1800 updates
    cnn_bn = run("6.4", "digits-bn", epochs=3)
    assert cnn.final["val_accuracy"] > softmax
    assert cnn_bn.history["loss"][0] < cnn.history["loss"][0] and cnn_bn.history["loss"][2] < cnn.history["loss"][2]


def test_6_5_frozen_trains_only_the_new_fc():
    r = run("6.5", "frozen", limit=100, size=32)
    model = r.model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"} and r.final["trainable_parameters"] == 512 * 10 + 10
    assert "not available offline" in r.outputs["pretrained"]
    full = run("6.5", "full", limit=100, size=32)
    assert full.final["trainable_parameters"] > 11_000_000
