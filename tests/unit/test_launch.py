"""Worker start-up plans: one solo worker per GPU, prefork with 1-thread processes on CPU."""

from common.config import Settings
from tingshu import launch


def test_cpu_plan_uses_prefork_with_single_thread_processes():
    [(argv, env)] = launch.worker_commands(Settings().replace(device="cpu"), 2, "INFO")
    assert "--pool=prefork" in argv and argv[argv.index("-c") + 1] == "2"
    assert env["TINGSHU_DEVICE"] == "cpu" and env["OMP_NUM_THREADS"] == "1"


def test_gpu_plan_is_one_solo_worker_per_gpu(monkeypatch):
    monkeypatch.setattr(launch, "gpu_count", lambda settings: 3)
    plans = launch.worker_commands(Settings().replace(device="auto"), None, "INFO")
    assert len(plans) == 3
    for index, (argv, env) in enumerate(plans):
        assert "--pool=solo" in argv and env["CUDA_VISIBLE_DEVICES"] == str(index)
        assert env["TINGSHU_DEVICE"] == "cuda:0" and f"gpu{index}@%h" in argv


def test_pinned_gpu_plan(monkeypatch):
    monkeypatch.setattr(launch, "gpu_count", lambda settings: 1)
    [(argv, env)] = launch.worker_commands(Settings().replace(device="cuda:1"), None, "INFO")
    assert "--pool=solo" in argv and "gpu1@%h" in argv and env == {}


def test_this_machine_without_cuda_counts_no_gpu():
    assert launch.gpu_count(Settings().replace(device="cpu")) == 0
