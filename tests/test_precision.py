import pytest
import torch
import torch.nn as nn

from ferganaug.utils.precision import NumericPath, choose_path, pick_fastest


def _tiny():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(7))


def test_auto_keeps_the_fastest_measured_path():
    rates = {"fp32": 10.0, "fp32+channels_last": 30.0, "bf16": 5.0, "bf16+channels_last": 20.0}
    path, measured = pick_fastest("auto", torch.device("cpu"), lambda p: rates[p.name])
    assert path == NumericPath("fp32", True)
    assert measured == rates


def test_fixed_precision_is_not_probed():
    called = []
    path, measured = pick_fastest("bf16", torch.device("cpu"), lambda p: called.append(p) or 1.0)
    assert path.precision == "bf16" and measured == {} and called == []


def test_probe_measures_real_steps_and_keeps_rng():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    path, measured = choose_path(lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 46 * 46, 7)),
                                 torch.device("cpu"), batch_size=8, seconds=0.05)
    assert set(measured) == {"fp32", "fp32+channels_last", "bf16", "bf16+channels_last"}
    assert all(v > 0 for v in measured.values())
    assert torch.equal(before, torch.get_rng_state())


def test_unknown_precision_named():
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        pick_fastest("fp8", torch.device("cpu"), lambda p: 1.0)


def test_a_burst_of_load_during_one_measurement_does_not_decide():
    # bf16 is the faster path, but its first measurement is taken while another process runs
    calls = []

    def measure(path):
        calls.append(path.name)
        if path.precision == "bf16":
            return 20.0 if calls.count(path.name) == 1 else 160.0
        return 90.0

    path, measured = pick_fastest("auto", torch.device("cpu"), measure)
    assert path.precision == "bf16" and measured["bf16"] == 160.0
    assert len(calls) == 8 and calls[:4] == calls[4:][::-1]  # two rounds, the second reversed
    single, _ = pick_fastest("auto", torch.device("cpu"), lambda p: 20.0 if p.precision == "bf16" else 90.0, rounds=1)
    assert single.precision == "fp32"


class _CountingNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.calls = nn.Conv2d(1, 2, 3), 0
        self.head = nn.Linear(2 * 46 * 46, 7)

    def forward(self, x):
        self.calls += 1
        return self.head(self.conv(x).flatten(1))


def test_a_path_far_slower_than_the_best_costs_one_step():
    from ferganaug.utils.precision import measure_train_throughput

    net = _CountingNet()
    rate = measure_train_throughput(lambda: net, NumericPath("fp32", False), torch.device("cpu"), 4,
                                    give_up_below=float("inf"))
    assert net.calls == 1 and 0 < rate < float("inf")
    timed = _CountingNet()
    measure_train_throughput(lambda: timed, NumericPath("fp32", False), torch.device("cpu"), 4, seconds=0.01)
    assert timed.calls >= 4  # a full measurement: the first step, one more warm-up, two timed


def test_capped_probe_gives_up_below_a_fraction_of_the_best_so_far():
    from ferganaug.utils.precision import GIVE_UP_FACTOR, capped_probe

    floors = []
    rates = {"fp32": 80.0, "fp32+channels_last": 100.0, "bf16": 5.0, "bf16+channels_last": 6.0}

    def measure(path, floor):
        floors.append(floor)
        return rates[path.name]

    path, _ = pick_fastest("auto", torch.device("cpu"), capped_probe(measure), rounds=1)
    assert path.name == "fp32+channels_last"
    assert floors == [0.0, 80.0 / GIVE_UP_FACTOR, 100.0 / GIVE_UP_FACTOR, 100.0 / GIVE_UP_FACTOR]
