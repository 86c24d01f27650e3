from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from xmr_lite import metrics, train
from xmr_lite.distances import cosine_similarity, euclidean, mahalanobis


def regression_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return x, y


def batches(x: torch.Tensor, y: torch.Tensor, size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(zip(torch.split(x, size), torch.split(y, size), strict=True))


def mse(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def test_fit_learns_a_linear_map_and_records_history(device):
    torch.manual_seed(0)
    x, y = regression_data()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, mse, opt, batches(x, y), epochs=30, device=device, progress=False)
    assert len(history.train_loss) == 30 and history.val_metric == []
    assert history.train_loss[-1] < 1e-3 < history.train_loss[0]
    assert history.best_epoch == 29 and not history.stopped_early
    assert next(model.parameters()).device.type == device.type
    torch.testing.assert_close(model.weight.detach().cpu(), torch.tensor([[1.0, -2.0, 0.5]]), atol=1e-2, rtol=0)


def test_fit_records_extra_logs_as_epoch_means(device):
    x, y = regression_data(32)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing changes, so the log is exact
    step = iter(range(100))

    def loss_fn(m: nn.Module, batch):
        return mse(m, batch), {"counter": float(next(step))}

    history = train.fit(model, loss_fn, opt, batches(x, y, 8), epochs=2, device=device, progress=False)
    # 4 batches an epoch: counters 0..3 then 4..7
    assert history.logs == {"counter": [1.5, 5.5]}


def test_early_stopping_restores_the_best_weights(device):
    """A metric that peaks at epoch 2 and then falls: training stops after `patience` more."""
    x, y = regression_data(32)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scripted = iter([0.1, 0.5, 0.9, 0.8, 0.7, 0.95])
    weights_at_epoch = []

    def metric(m: nn.Module, loader) -> float:
        weights_at_epoch.append(m.weight.detach().clone())
        return next(scripted)

    history = train.fit(
        model, mse, opt, batches(x, y), val_loader=[None], epochs=6, metric=metric, patience=2, device=device,
        progress=False,
    )  # fmt: skip
    assert history.val_metric == [0.1, 0.5, 0.9, 0.8, 0.7]
    assert history.best_epoch == 2 and history.best_metric == 0.9 and history.stopped_early
    assert len(history.train_loss) == 5
    torch.testing.assert_close(model.weight.detach(), weights_at_epoch[2])
    assert not model.training


def test_default_metric_is_the_validation_loss(device):
    x, y = regression_data(64)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    val = batches(*regression_data(32, seed=1))
    history = train.fit(model, mse, opt, batches(x, y), val_loader=val, epochs=5, device=device, progress=False)
    direct = float(np.mean([mse(model, train.to_device(b, device)).item() for b in val]))
    assert history.best_metric == pytest.approx(direct, rel=1e-5)
    assert history.best_metric == min(history.val_metric)


def test_fit_validates_its_arguments():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = batches(*regression_data())
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, mse, opt, data, epochs=0, progress=False)
    with pytest.raises(ValueError, match="mode"):
        train.fit(model, mse, opt, data, mode="best", progress=False)
    with pytest.raises(ValueError, match="patience"):
        train.fit(model, mse, opt, data, patience=0, progress=False)
    with pytest.raises(ValueError, match='mode="min"'):
        train.fit(model, mse, opt, data, val_loader=data, mode="max", progress=False)
    with pytest.raises(ValueError, match="train_loader produced no batch"):
        train.fit(model, mse, opt, [], progress=False)
    with pytest.raises(ValueError, match="0-d tensor"):
        train.fit(model, lambda m, b: mse(m, b).reshape(1), opt, data, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(model, mse, "sgd", data, progress=False)


def test_fit_stops_on_a_non_finite_loss():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epoch 0"):
        train.fit(model, lambda m, b: mse(m, b) * float("nan"), opt, batches(*regression_data()), progress=False)


def test_to_device_walks_nested_batches(device):
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), ["text"]), "n": 3}
    moved = train.to_device(batch, device)
    assert moved["x"].device.type == device.type and moved["pair"][0].device.type == device.type
    assert moved["pair"][1] == ["text"] and moved["n"] == 3 and isinstance(moved["pair"], tuple)


def test_encode_matches_one_forward_pass(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5)).to(device).train()
    x = torch.randn(37, 5)
    z = train.encode(model, x, batch_size=8)
    assert not model.training  # eval mode: dropout off, so batches agree with one pass
    assert z.shape == (37, 4) and z.device.type == device.type and not z.requires_grad
    torch.testing.assert_close(z, model(x.to(device)).detach())
    np_z = train.encode(model, x.numpy(), batch_size=100)
    torch.testing.assert_close(np_z, z)


def test_encode_accepts_a_bound_method(device):
    class TwoTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image = nn.Linear(4, 2)
            self.audio = nn.Linear(6, 2)

    model = TwoTower().to(device)
    z = train.encode(model.audio, torch.randn(5, 6))
    assert z.shape == (5, 2) and z.device.type == device.type


def test_retrieval_scores_feed_the_metrics(device):
    torch.manual_seed(0)
    queries, gallery = torch.randn(6, 3), torch.randn(9, 3)
    q_enc, g_enc = nn.Linear(3, 4).to(device), nn.Linear(3, 4).to(device)
    scores = train.retrieval_scores(q_enc, queries, g_enc, gallery)
    expected = cosine_similarity(q_enc(queries.to(device)), g_enc(gallery.to(device))).detach()
    torch.testing.assert_close(scores, expected)
    by_distance = train.retrieval_scores(q_enc, queries, g_enc, gallery, metric="euclidean")
    torch.testing.assert_close(by_distance, -euclidean(q_enc(queries.to(device)), g_enc(gallery.to(device))).detach())
    relevance = metrics.relevance_from_labels(torch.arange(6) % 3, torch.arange(9) % 3).to(device)
    assert set(metrics.evaluate(scores, relevance)) >= {"R@1", "mAP", "MedR"}


def test_encode_and_scores_validate():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="encoder"):
        train.encode("model", torch.zeros(2, 3))
    with pytest.raises(ValueError, match="data"):
        train.encode(model, torch.zeros(0, 3))
    with pytest.raises(ValueError, match="data"):
        train.encode(model, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        train.encode(model, torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="batch_size"):
        train.encode(model, torch.zeros(2, 3), batch_size=0)
    with pytest.raises(ValueError, match=r"\(b, D\)"):
        train.encode(lambda x: x.sum(), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="metric"):
        train.retrieval_scores(model, torch.zeros(2, 3), model, torch.zeros(2, 3), metric="hamming")


def test_checkpoint_round_trip(tmp_path, device):
    torch.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    mse(model, (torch.randn(4, 3, device=device), torch.randn(4, 2, device=device))).backward()
    opt.step()
    history = train.History(train_loss=[1.0, 0.5], best_epoch=1, best_metric=0.5)
    path = train.save(tmp_path / "model.pt", model, opt, extra={"history": history.as_dict(), "seed": 0})
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind

    restored = nn.Linear(3, 2).to(device)
    restored_opt = torch.optim.Adam(restored.parameters(), lr=0.01)
    extra = train.load(path, restored, restored_opt)
    assert extra["seed"] == 0 and extra["history"]["train_loss"] == [1.0, 0.5]
    for a, b in zip(model.state_dict().values(), restored.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert restored_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_load_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Fraction(1, 3)}, path)  # any class outside torch's allow-list
    with pytest.raises(Exception, match=r"weights_only|Unsupported global"):
        train.load(path, nn.Linear(3, 2))


def test_checkpoint_errors(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="folder"):
        train.save(tmp_path / "missing" / "m.pt", model)
    with pytest.raises(ValueError, match="not a file"):
        train.load(tmp_path / "none.pt", model)
    path = train.save(tmp_path / "m.pt", model)
    with pytest.raises(ValueError, match="no optimizer state"):
        train.load(path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        train.load(tmp_path / "list.pt", model)
    with pytest.raises(RuntimeError):  # a different architecture: torch names the missing keys
        train.load(path, nn.Linear(4, 2))


def test_validation_loss_is_the_mean_loss_over_the_validation_batches(device):
    x, y = regression_data(48)
    model = nn.Linear(3, 1).to(device)
    val = [(bx.to(device), by.to(device)) for bx, by in batches(x, y, 16)]
    with torch.no_grad():
        expected = sum(float(mse(model, b)) for b in val) / len(val)
    assert train.validation_loss(mse)(model, val) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="val_loader produced no batch"):
        train.validation_loss(mse)(model, [])


def test_fit_steps_a_per_step_scheduler_after_every_optimiser_step(device):
    """OneCycleLR as chapter 6 uses it: one scheduler step per optimiser step."""
    x, y = regression_data(48)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    total = 3 * 3  # 3 epochs of 3 batches
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total)
    expected = []
    shadow_opt = torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)
    shadow = torch.optim.lr_scheduler.OneCycleLR(shadow_opt, max_lr=0.1, total_steps=total)
    for _ in range(total):
        expected.append(shadow_opt.param_groups[0]["lr"])
        shadow_opt.step()
        shadow.step()
    history = train.fit(model, mse, opt, batches(x, y), epochs=3, device=device, progress=False, scheduler=schedule)
    assert history.steps == total == len(history.step_loss) == len(history.learning_rate)
    np.testing.assert_allclose(history.learning_rate, expected)
    assert len(set(history.learning_rate)) > 3  # it really changed


def test_fit_steps_a_per_epoch_scheduler_once_an_epoch(device):
    x, y = regression_data(48)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = train.fit(
        model, mse, opt, batches(x, y), epochs=3, device=device, progress=False, scheduler=schedule,
        scheduler_interval="epoch",
    )  # fmt: skip
    np.testing.assert_allclose(history.learning_rate, [0.1] * 3 + [0.05] * 3 + [0.025] * 3)


def test_reduce_on_plateau_reads_the_validation_metric(device):
    x, y = regression_data(32)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0)
    scripted = iter([0.5, 0.4, 0.3])
    history = train.fit(
        model, mse, opt, batches(x, y), val_loader=[None], epochs=3, metric=lambda m, loader: next(scripted),
        device=device, progress=False, scheduler=schedule, scheduler_interval="epoch",
    )  # fmt: skip
    # epoch 1 is worse than epoch 0, so the scheduler cuts the rate before epoch 2
    np.testing.assert_allclose(history.learning_rate, [0.1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert schedule.best == 0.5 and history.val_metric == [0.5, 0.4, 0.3]
    with pytest.raises(ValueError, match="scheduler_interval"):
        train.fit(model, mse, opt, batches(x, y), epochs=1, progress=False, scheduler=schedule)


def test_max_steps_stops_in_the_middle_of_an_epoch(device):
    x, y = regression_data(64)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    seen = []

    def counting_mse(m: nn.Module, batch):
        seen.append(1)
        return mse(m, batch)

    history = train.fit(model, counting_mse, opt, batches(x, y), epochs=10, device=device, progress=False, max_steps=6)
    # 4 batches an epoch: one full epoch, then 2 steps of the second
    assert history.steps == 6 == len(seen) == len(history.step_loss)
    assert len(history.train_loss) == 2 and history.stopped_at_max_steps and not history.stopped_early
    assert history.train_loss[1] == pytest.approx(np.mean(history.step_loss[4:]))
    assert history.seconds > 0


def test_max_steps_validates_the_last_partial_epoch(device):
    x, y = regression_data(64)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    history = train.fit(
        model, mse, opt, batches(x, y), val_loader=batches(x, y), epochs=10, device=device, progress=False,
        max_steps=5,
    )  # fmt: skip
    assert len(history.val_metric) == 2 and history.stopped_at_max_steps and history.steps == 5


def test_fit_without_the_new_options_is_unchanged(device):
    """Same seed, same data: the defaults give the same weights as an explicit no-op."""
    results = []
    for kwargs in ({}, {"scheduler": None, "max_steps": None, "max_grad_norm": None}):
        torch.manual_seed(3)
        x, y = regression_data()
        model = nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        history = train.fit(model, mse, opt, batches(x, y), epochs=2, device=device, progress=False, **kwargs)
        results.append((model.weight.detach().cpu().clone(), history.train_loss))
        assert not history.stopped_at_max_steps and history.steps == 8
    torch.testing.assert_close(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_max_grad_norm_clips_the_update(device):
    x, y = regression_data(16)
    y = y * 1000  # a huge loss, a huge gradient
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    train.fit(model, mse, opt, batches(x, y, 16), epochs=1, device=device, progress=False, max_grad_norm=0.5)
    step = torch.cat([(p.detach().cpu() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)])
    assert float(step.norm()) == pytest.approx(0.5, rel=1e-4)


def test_new_fit_arguments_are_validated():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    other = torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)
    data = batches(*regression_data(16))
    for kwargs, match in (
        ({"max_steps": 0}, "max_steps"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
        ({"scheduler": "cosine"}, "scheduler"),
        ({"scheduler": torch.optim.lr_scheduler.StepLR(other, 1)}, "scheduler must be built on the optimizer"),
        ({"scheduler_interval": "batch"}, "scheduler_interval"),
    ):
        with pytest.raises(ValueError, match=match):
            train.fit(model, mse, opt, data, epochs=1, progress=False, device="cpu", **kwargs)


def test_history_as_dict_holds_the_step_records(device):
    x, y = regression_data(32)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, mse, opt, batches(x, y), epochs=1, device=device, progress=False)
    record = history.as_dict()
    assert record["steps"] == 2 and record["step_loss"] == history.step_loss and record["seconds"] > 0


def test_count_parameters_counts_linear_layers_and_frozen_ones():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    assert train.count_parameters(model) == 4 * 3 + 3 + 3 * 2 + 2
    model[0].weight.requires_grad_(False)
    assert train.count_parameters(model) == 3 + 3 * 2 + 2
    assert train.count_parameters(model, trainable_only=False) == 4 * 3 + 3 + 3 * 2 + 2
    for bad, match in (("net", "model"), (model, "trainable_only")):
        with pytest.raises(ValueError, match=match):
            train.count_parameters(bad) if bad == "net" else train.count_parameters(model, trainable_only=1)


@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int64])
def test_encode_casts_raw_numpy_dtypes_to_the_model(dtype, device):
    """Bug: a float64 or uint8 array crashed a float32 model with a dtype mismatch."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    raw = (np.random.default_rng(2).random((5, 3)) * 200).astype(dtype)
    z = train.encode(model, raw, batch_size=2)
    assert z.dtype == torch.float32 and z.device.type == device.type
    expected = model(torch.from_numpy(raw.astype(np.float32)).to(device)).detach()
    torch.testing.assert_close(z, expected)


def test_retrieval_scores_pass_mahalanobis_parameters_through(device):
    """Bug: "mahalanobis" was accepted but always failed (no VI reached the distance)."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    gen = torch.Generator().manual_seed(4)
    q, g = torch.randn(4, 3, generator=gen), torch.randn(6, 3, generator=gen)
    vi = torch.tensor([[2.0, 0.3], [0.3, 1.0]], device=device)
    scores = train.retrieval_scores(model, q, model, g, metric="mahalanobis", VI=vi)
    zq, zg = train.encode(model, q), train.encode(model, g)
    torch.testing.assert_close(scores, -mahalanobis(zq, zg, VI=vi))
    with pytest.raises(ValueError, match="needs VI"):
        train.retrieval_scores(model, q, model, g, metric="mahalanobis")
    with pytest.raises(ValueError, match="takes no extra arguments"):
        train.retrieval_scores(model, q, model, g, metric="cosine", VI=vi)


def test_retrieval_scores_accept_kl_on_distributions_and_say_why_not_otherwise():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1))
    gen = torch.Generator().manual_seed(5)
    q, g = torch.randn(3, 3, generator=gen), torch.randn(5, 3, generator=gen)
    scores = train.retrieval_scores(model, q, model, g, metric="js", device="cpu")
    assert scores.shape == (3, 5) and bool((scores <= 0).all())
    with pytest.raises(ValueError, match=r"probability distributions|sum to 1"):
        train.retrieval_scores(nn.Linear(3, 4), q, nn.Linear(3, 4), g, metric="kl", device="cpu")


def test_retrieval_scores_accept_the_deprecated_l2():
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(6))
    with pytest.warns(DeprecationWarning):
        old = train.retrieval_scores(model, x, model, x, metric="l2", device="cpu")
    torch.testing.assert_close(old, train.retrieval_scores(model, x, model, x, metric="sqeuclidean", device="cpu"))


def test_fit_records_tensor_logs_like_numbers(device):
    """batch_triplet_loss's active fraction is a tensor: fit sums it on the device."""
    x, y = regression_data(32)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    values = iter([0.25, 0.75, 0.5, 1.0])

    def loss_fn(m: nn.Module, batch):
        return mse(m, batch), {"active": torch.tensor(next(values), device=device)}

    history = train.fit(model, loss_fn, opt, batches(x, y), epochs=2, device=device, progress=False)
    assert history.logs == {"active": [0.5, 0.75]}


def test_fit_reproduces_a_hand_written_one_cycle_loop_exactly():
    """Chapter 6's loop (AdamW, OneCycleLR stepped per batch, reshuffled batches, dropout) as fit."""

    def build() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
        return net, opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=3 * 4)

    x, y = regression_data(64, seed=1)

    net, opt, schedule = build()
    generator = torch.Generator().manual_seed(0)
    hand_losses = []
    for _ in range(3):
        for idx in torch.randperm(64, generator=generator).split(16):
            loss = mse(net, (x[idx], y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            hand_losses.append(loss.item())
    hand_weights = [p.detach().clone() for p in net.parameters()]

    net, opt, schedule = build()

    class Reshuffled:
        """Batches in a new order each epoch, from a seeded generator (a DataLoader would draw
        its worker seed from the global generator, which dropout also draws from)."""

        generator = torch.Generator().manual_seed(0)

        def __iter__(self):
            return ((x[idx], y[idx]) for idx in torch.randperm(64, generator=self.generator).split(16))

    loader = Reshuffled()
    history = train.fit(net, mse, opt, loader, epochs=3, device="cpu", progress=False, scheduler=schedule)
    assert history.step_loss == pytest.approx(hand_losses, rel=1e-6)
    for ours, theirs in zip(net.parameters(), hand_weights, strict=True):
        torch.testing.assert_close(ours.detach(), theirs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compares the CPU with a CUDA GPU (make gpu-check)")
def test_fit_and_retrieval_scores_agree_between_cpu_and_gpu():
    results = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        x, y = regression_data(64, seed=2)
        model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=5 * 4)
        history = train.fit(model, mse, opt, batches(x, y), epochs=5, device=device, progress=False, scheduler=schedule)
        scores = train.retrieval_scores(model[0], x, model[0], x, metric="euclidean")
        results[device] = (history.step_loss, scores.cpu())
    assert results["cpu"][0] == pytest.approx(results["cuda"][0], rel=1e-4, abs=1e-5)
    torch.testing.assert_close(results["cpu"][1], results["cuda"][1], rtol=1e-4, atol=1e-4)
