"""examples/pretrain/pretrain.py on CPU: the smoke configuration learns a small build, a SIGKILLed run
resumes to the same weights bit for bit, and two gloo processes split every epoch between them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from conftest import REPO  # noqa: E402

SCRIPT = REPO / "examples" / "pretrain" / "pretrain.py"
CLI = REPO / "dist" / "cli" / "main.js"
CLASSES, INSTANCES, HOLDOUT = 10, 40, 8
# Shapes that fit the frame (small centre offset, radius <= 61 px at 128 px), so that the classes
# differ visibly even at 32 x 32.
BUILD = ["--classes", str(CLASSES), "--instances", str(INSTANCES), "--image-size", "128", "--start-pos", "16",
         "--radius-min", "1", "--oval-rate", "1.2", "--line-width", "0.025", "--orbits", "1:12", "--vertices", "20:100",
         "--shard-size", "80", "--seed", "1", "--threads", "1"]


def _env(tmp=None):
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    if tmp is not None:  # a killed run cannot remove its multiprocessing directories (pymp-*): keep them here
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
    return env


RUN_BOUND_S = 600


def run(args, **kw):
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=_env(), capture_output=True, text=True,
                          timeout=RUN_BOUND_S, **kw)


def epoch_lines(run_dir: Path):
    return [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]


def weight_bytes(path: Path):
    state = torch.load(path, map_location="cpu")
    return {k: v.numpy().tobytes() for k, v in state.items()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    if shutil.which("node") is None or not CLI.exists():
        pytest.fail(f"needs node and the built CLI ({CLI}): run `npm ci` first")
    root = tmp_path_factory.mktemp("pretrain") / "va"
    subprocess.run(["node", str(CLI), "build", "--out", str(root), "--quiet", *BUILD], check=True, timeout=300)
    return root


def test_rendered_on_the_fly_trains_exactly_like_stored(dataset, tmp_path):
    # the same configuration as a manifest-only directory: images rendered on access, same bytes
    rendered = tmp_path / "manifest-only"
    subprocess.run(["node", str(CLI), "build", "--format", "manifest", "--out", str(rendered), "--quiet", *BUILD],
                   check=True, timeout=300)
    assert sorted(p.name for p in rendered.iterdir()) == ["manifest.json"]
    short = ["--smoke", "--epochs", "2", "--workers", "1"]
    for data, out in ((dataset, tmp_path / "stored-run"), (rendered, tmp_path / "rendered-run")):
        r = run(["--data", str(data), "--out", str(out), *short])
        assert r.returncode == 0, r.stderr
    assert weight_bytes(tmp_path / "rendered-run" / "model.pt") == weight_bytes(tmp_path / "stored-run" / "model.pt")


def test_rcdb_dataset_trains_stored_and_rendered_alike(tmp_path):
    # pretrain.py takes an RCDB directory as it takes a VisualAtom one (the family is the manifest's business)
    rcdb = ["--preset", "rcdb-1k", "--classes", "4", "--instances", "20", "--image-size", "64", "--seed", "2", "--threads", "1"]
    short = ["--smoke", "--epochs", "1", "--workers", "1"]
    runs = []
    for fmt in ("npy", "manifest"):
        data = tmp_path / f"rcdb-{fmt}"
        subprocess.run(["node", str(CLI), "build", "--format", fmt, "--out", str(data), "--quiet", *rcdb], check=True, timeout=300)
        out = tmp_path / f"run-{fmt}"
        r = run(["--data", str(data), "--out", str(out), *short])
        assert r.returncode == 0, r.stderr
        runs.append(weight_bytes(out / "model.pt"))
    assert runs[0] == runs[1]


def test_smoke_run_learns(dataset, tmp_path):
    out = tmp_path / "run"
    # symlinks planted where the run writes its temporary files: removed, never written through
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    out.mkdir()
    for name in ("config.json.tmp", "checkpoint.pt.tmp", "model.pt.tmp"):
        (out / name).symlink_to(victim)
    r = run(["--data", str(dataset), "--out", str(out), "--smoke"])
    assert r.returncode == 0, r.stderr
    assert victim.read_bytes() == b"untouched"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "log.jsonl", "model.pt"]
    assert not any((out / p).is_symlink() for p in os.listdir(out))
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "vit_micro" and config["image_size"] == 32 and config["device"] == "cpu"
    assert config["train_images"] == CLASSES * (INSTANCES - HOLDOUT) and config["heldout_images"] == CLASSES * HOLDOUT
    printed = [json.loads(x) for x in r.stdout.splitlines()]
    assert printed[0] == {"config": config}  # the resolved configuration comes first
    assert printed[1:] == epoch_lines(out)
    lines = epoch_lines(out)
    assert [x["epoch"] for x in lines] == list(range(config["epochs"]))
    assert [x["step"] for x in lines] == [(e + 1) * config["steps_per_epoch"] for e in range(config["epochs"])]
    assert all(set(x) == {"epoch", "step", "loss", "top1", "images_per_s"} and x["images_per_s"] > 0 for x in lines)
    chance = 1 / CLASSES
    assert lines[0]["top1"] < 2 * chance  # it starts from nothing ...
    assert lines[-1]["top1"] >= 3 * chance, lines[-5:]  # ... and learns (bench/RESULTS.md: 0.675)
    assert lines[-1]["loss"] < lines[0]["loss"] - 0.5
    # the weights are a plain torchvision VisionTransformer's (fine-tune them with stock code)
    from torchvision.models.vision_transformer import VisionTransformer

    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=4, num_heads=3, hidden_dim=96, mlp_dim=384,
                            num_classes=CLASSES)
    vit.load_state_dict(torch.load(out / "model.pt"))
    # a finished run reruns to nothing and leaves the weights as they were
    before = (out / "model.pt").read_bytes()
    again = run(["--data", str(dataset), "--out", str(out), "--smoke"])
    assert again.returncode == 0, again.stderr
    assert len(epoch_lines(out)) == config["epochs"] and (out / "model.pt").read_bytes() == before


# Every random path on: RandAugment, random erasing, mixup/cutmix, drop-path, worker processes.
RESUME = ["--smoke", "--epochs", "3", "--checkpoint-every", "4", "--randaug-ops", "2", "--mixup", "0.8",
          "--cutmix", "1.0", "--reprob", "0.25", "--drop-path", "0.1", "--workers", "2", "--log-every", "1"]


@pytest.mark.parametrize("input_path", ["device", "workers"])
def test_sigkill_and_restart_give_the_same_weights(dataset, tmp_path, input_path):
    resume = [*RESUME, "--input", input_path]
    ref = tmp_path / "ref"
    r = run(["--data", str(dataset), "--out", str(ref), *resume])
    assert r.returncode == 0, r.stderr

    out = tmp_path / "killed"
    args = [sys.executable, str(SCRIPT), "--data", str(dataset), "--out", str(out), *resume]
    # steps per epoch: 10; checkpoints at 4, 8, 10 (epoch end), 12, 16, 20, ...: SIGKILL between two
    # of them (losing steps), then SIGTERM (preemption: the script checkpoints the step it is at)
    for kill_after, sig in ((6, signal.SIGKILL), (17, signal.SIGTERM)):
        p = subprocess.Popen(args, env=_env(tmp_path / "tmp"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        # A run that stops making progress fails the test instead of hanging the whole suite.
        watchdog = threading.Timer(RUN_BOUND_S, os.killpg, (p.pid, signal.SIGKILL))
        watchdog.start()
        try:
            for line in p.stdout:
                if line.startswith('{"step"') and json.loads(line)["step"] >= kill_after:
                    if sig == signal.SIGKILL:
                        os.killpg(p.pid, sig)  # the script and its DataLoader workers, mid-step
                    else:
                        p.send_signal(sig)
                    break
            p.stdout.read()
        finally:
            p.stdout.close()
            err = p.stderr.read()
            p.stderr.close()
            p.wait(timeout=60)
            watchdog.cancel()
        assert p.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM), err
        assert not (out / "model.pt").exists()
    stopped_at = int(err.split("terminated: checkpoint at step ")[1].split(";")[0])
    assert stopped_at >= 17
    r = run(["--data", str(dataset), "--out", str(out), *resume])
    assert r.returncode == 0, r.stderr
    assert f"resuming {out / 'checkpoint.pt'} at step {stopped_at} " in r.stderr

    assert weight_bytes(out / "model.pt") == weight_bytes(ref / "model.pt")
    drop_rate = lambda lines: [{k: v for k, v in x.items() if k != "images_per_s"} for x in lines]  # noqa: E731
    killed_log = epoch_lines(out)
    assert drop_rate(killed_log) == drop_rate(epoch_lines(ref))  # same loss and top-1, epoch by epoch

    # resuming with other training settings is refused before any work
    bad = run(["--data", str(dataset), "--out", str(out), *resume, "--lr", "0.002"])
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("holds a run with lr=0.001, this run has lr=0.002: use the same settings to "
                                       "resume, or another --out")


def test_two_gloo_processes_split_each_epoch(dataset, tmp_path):
    out = tmp_path / "ddp"
    # torchrun's environment contract, set by hand: Debian's torchrun (PyTorch 1.13) fails on Python 3.11
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in (0, 1):
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        args = ["--data", str(dataset), "--out", str(out), "--smoke", "--epochs", "2", "--trace-samples",
                "--input", "workers"]
        procs.append(subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2 and config["micro_batch"] == 16  # --batch-size is global
    assert [x["epoch"] for x in epoch_lines(out)] == [0, 1]  # one log, from rank 0

    train = [i for i in range(CLASSES * INSTANCES) if i % INSTANCES < INSTANCES - HOLDOUT]
    sys.path.insert(0, str(REPO / "python"))
    from vatom_fast import ShardWindowSampler

    class Layout:
        shard_sizes = (80,) * 5

        def __len__(self):
            return 400

    one = ShardWindowSampler(Layout(), window_images=config["window_images"], seed=0, num_replicas=1, rank=0,
                             indices=train)
    traces = [[json.loads(x) for x in (out / f"samples-rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)]
    for epoch in (0, 1):
        seen = [[i for step in t if step["epoch"] == epoch for i in step["indices"]] for t in traces]
        assert len(seen[0]) == len(seen[1]) == len(train) // 2
        assert not set(seen[0]) & set(seen[1])  # disjoint ...
        assert sorted(seen[0] + seen[1]) == train  # ... and together the whole epoch, held-out images excluded
        one.set_epoch(epoch)
        assert [i for pair in zip(*seen) for i in pair] == list(one)  # rank r takes r, r + 2, ... of the order


@pytest.mark.parametrize("args, message", [
    (["--holdout", "40"], "--holdout must be below the dataset's 40 instances per class, got 40"),
    (["--image-size", "30"], "--image-size must be a multiple of vit_micro's patch size 8, got 30"),
    (["--lr", "-1"], "--lr must be a finite number >= 0, got -1.0"),
    (["--batch-size", "1000"], "--batch-size 1000 is larger than an epoch (320 training images)"),
    (["--crop-scale", "0.5:0.2"], "--crop-scale must be MIN:MAX with 0 < MIN <= MAX <= 1, got [0.5, 0.2]"),
    (["--accum-steps", "3"], "--batch-size must be a multiple of world size x --accum-steps (1 x 3), got 32"),
    (["--amp", "fp16"], "--amp fp16 needs --device cuda (on the CPU: --amp bf16 or none)"),
])
def test_bad_options_exit_2_with_one_line(dataset, tmp_path, args, message):
    r = run(["--data", str(dataset), "--out", str(tmp_path / "run"), "--smoke", *args])
    assert r.returncode == 2
    assert r.stderr == f"pretrain.py: {message}\n"
    assert not (tmp_path / "run").exists()


def test_bad_dataset_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--smoke"])
    assert r.returncode == 2
    assert r.stderr.startswith(f"pretrain.py: --data {tmp_path / 'empty'}: ") and r.stderr.count("\n") == 1


def _script_module():
    import importlib.util

    sys.path.insert(0, str(REPO / "python"))
    spec = importlib.util.spec_from_file_location("pretrain_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_logs_are_never_appended_through_a_symlink(tmp_path):
    P = _script_module()
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (tmp_path / "log.jsonl").symlink_to(victim)
    with pytest.raises(P.RunError, match="cannot append to .*log.jsonl"):
        P.emit({"epoch": 0}, tmp_path / "log.jsonl")
    assert victim.read_text() == "untouched\n"
    P.emit({"epoch": 0}, tmp_path / "fresh.jsonl")
    P.emit({"epoch": 1}, tmp_path / "fresh.jsonl")
    assert (tmp_path / "fresh.jsonl").read_text() == '{"epoch": 0}\n{"epoch": 1}\n'


def test_drop_path_blocks_keep_torchvision_behaviour_and_names():
    P = _script_module()
    from torchvision.models.vision_transformer import VisionTransformer

    cfg = dict(P.RECIPE, model="vit_micro", image_size=32, drop_path=0.3)
    torch.manual_seed(0)
    model, impl = P.build_model(cfg, 5)
    assert impl == "torchvision"
    rates = [b.drop_prob for b in model.encoder.layers]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])  # linear over depth, as timm
    plain = VisionTransformer(image_size=32, patch_size=8, num_layers=4, num_heads=3, hidden_dim=96, mlp_dim=384,
                              num_classes=5)
    plain.load_state_dict(model.state_dict())  # same parameter names
    x = torch.randn(6, 3, 32, 32)
    model.eval(), plain.eval()
    assert torch.equal(model(x), plain(x))  # no stochastic depth at evaluation
    model.train()
    torch.manual_seed(1)
    block = model.encoder.layers[3]
    tokens = torch.randn(64, 17, 96)
    out = block(tokens)
    assert not torch.equal(out, P.EncoderBlock.forward(block, tokens))
    # a dropped sample skips both branches: its tokens pass through unchanged
    torch.manual_seed(2)
    block.drop_prob = 0.999999
    assert torch.equal(block(tokens), tokens)


def test_schedule_and_mixing():
    P = _script_module()
    cfg = dict(P.RECIPE)
    total = 100_000
    assert P.lr_at(0, cfg, total) == pytest.approx(1e-6)
    assert P.lr_at(2500, cfg, total) == pytest.approx((1e-6 + 1e-3) / 2)
    assert P.lr_at(5000, cfg, total) == pytest.approx(1e-3)
    assert P.lr_at(total, cfg, total) == pytest.approx(1e-5)
    assert P.lr_at((total + 5000) // 2, cfg, total) == pytest.approx((1e-3 + 1e-5) / 2)

    aug = P.BatchAugment(cfg, 10, torch.device("cpu"))
    y = torch.arange(8) % 10
    t = aug.targets(y, 1.0)
    assert torch.allclose(t.sum(1), torch.ones(8)) and t[0, 0] == pytest.approx(0.9 + 0.01)
    x = aug.images(torch.randint(0, 256, (8, 1, 32, 32), dtype=torch.uint8))
    assert x.shape == (8, 3, 32, 32)
    assert torch.allclose(x[:, 0] * 0.229 + 0.485, x[:, 2] * 0.225 + 0.406)  # one channel, three normalisations
    mixup = P.BatchAugment(dict(cfg, cutmix=0.0), 10, torch.device("cpu"))
    cutmix = P.BatchAugment(dict(cfg, mixup=0.0), 10, torch.device("cpu"))
    kinds = set()
    x = torch.randn(8, 3, 32, 32)  # no pixel equal to another image's
    for seed in range(10):
        for which in (mixup, cutmix, aug):
            mixed, target = which.mix(x, y, np.random.default_rng(seed))
            assert torch.allclose(target.sum(1), torch.ones(8))
            lam = (target[torch.arange(8), y] - 0.01) / 0.9  # labels 0..7 meet 7..0: no class on both sides
            assert torch.allclose(lam, lam[0].expand(8)) and 0 <= float(lam[0]) <= 1
            own = (mixed == x).all(1).float().mean(dim=(1, 2))  # share of each image's own pixels
            if float(lam[0]) == 1.0:  # a cutmix box of zero area
                assert torch.equal(mixed, x)
            elif torch.allclose(mixed, x * float(lam[0]) + x.flip(0) * (1 - float(lam[0])), atol=1e-5):
                kinds.add("mixup")
                assert which is not cutmix
            else:
                kinds.add("cutmix")
                assert which is not mixup and torch.allclose(own, lam, atol=1e-6)
    assert kinds == {"mixup", "cutmix"}
    erased = P.BatchAugment(dict(cfg, reprob=1.0), 10, torch.device("cpu")).erase(x, torch.Generator().manual_seed(0))
    changed = (erased != x).any(1).float().mean(dim=(1, 2))
    assert ((changed > 0.015) & (changed < 0.34)).all()  # one region of 2%..33% in every image


def test_two_gloo_processes_share_repeated_augmentation(dataset, tmp_path):
    """--input device with DeiT's repeated augmentation over 2 ranks: the three copies of an image are
    dealt round robin, so the ranks' samples interleave into the tripled order."""
    out = tmp_path / "ddp"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in (0, 1):
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        args = ["--data", str(dataset), "--out", str(out), "--smoke", "--epochs", "1", "--trace-samples",
                "--repeated-aug", "3", "--batch-size", "32"]
        procs.append(subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    traces = [[i for x in (out / f"samples-rank{r}.jsonl").read_text().splitlines() for i in json.loads(x)["indices"]]
              for r in (0, 1)]
    assert len(traces[0]) == len(traces[1]) == 160  # 320 training images over 2 ranks, 5 steps of 16 each
    dealt = [i for pair in zip(*traces) for i in pair]
    whole = len(dealt) // 3 * 3  # 320 is not a multiple of 3: the epoch ends inside a group
    assert dealt[:whole] == [i for i in dealt[:whole:3] for _ in range(3)]  # each image three times in a row
    held = {i for i in range(CLASSES * INSTANCES) if i % INSTANCES >= INSTANCES - HOLDOUT}
    assert not held & set(dealt)


def test_preset_data_trains_with_no_files_and_is_recorded(tmp_path):
    out = tmp_path / "run"
    r = run(["--data", "preset:visualatom-1k", "--data-seed", "3", "--data-option", "classes=4",
             "--data-option", "instances=12", "--holdout", "2", "--smoke", "--epochs", "1", "--batch-size", "8",
             "--out", str(out)])
    if "cannot render" in r.stderr:
        pytest.skip(r.stderr)
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == "preset:visualatom-1k"
    assert config["dataset"] == {"preset": "visualatom-1k", "dataset_seed": 3, "options": {"classes": 4, "instances": 12}}
    assert config["train_images"] == 40 and config["heldout_images"] == 8
    bad = run(["--data", "preset:visualatom-1k", "--data-option", "colour=red", "--smoke", "--out", str(tmp_path / "b")])
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "colour" in bad.stderr, bad.stderr
    assert not (tmp_path / "b").exists()
    nope = run(["--data", str(tmp_path), "--data-seed", "1", "--smoke", "--out", str(tmp_path / "c")])
    assert nope.returncode == 2 and nope.stderr == "pretrain.py: --data-seed and --data-option need --data preset:NAME\n"


# ------------------------------------------------------------------ the run directory is input too

def plant(path: Path, kind: str, victim: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink":
        path.symlink_to(victim)
    elif kind == "hardlink":
        os.link(victim, path)


@pytest.mark.parametrize("name, kind", [(n, k) for n in ("checkpoint.pt", "log.jsonl", "model.pt")
                                        for k in ("fifo", "directory", "symlink")] + [("log.jsonl", "hardlink")])
def test_planted_run_files_are_refused_before_any_work(dataset, tmp_path, name, kind):
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    plant(out / name, kind, victim)
    r = run(["--data", str(dataset), "--out", str(out), "--smoke"], )
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and f"{name} " in r.stderr and "remove it" in r.stderr, r.stderr
    assert r.stdout == ""  # refused before the configuration is even printed, let alone training
    assert victim.read_text() == "untouched\n"
    assert sorted(p.name for p in out.iterdir()) == [name]


@pytest.fixture(scope="module")
def finished_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    r = run(["--data", str(dataset), "--out", str(out), "--smoke", "--epochs", "1", "--checkpoint-every", "4"])
    assert r.returncode == 0, r.stderr
    return out


def _bad_checkpoint(kind: str, good: Path, path: Path, tmp_path: Path) -> None:
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "code":
        class Planted:
            def __reduce__(self):
                return (os.system, (f"touch {tmp_path / 'pwned'}",))
        import pickle

        path.write_bytes(pickle.dumps({"model": Planted()}))
    else:
        state = torch.load(good, weights_only=True)
        if kind == "no model":
            del state["model"]
        elif kind == "garbage sampler state":
            state["sampler"] = {"epoch": "soon", "step": -3}
        elif kind == "wrong shapes":
            state["model"] = {k: v[..., :1] if v.dim() else v for k, v in state["model"].items()}
        torch.save(state, path)


@pytest.mark.parametrize("kind", ["random bytes", "truncated", "empty", "code", "no model", "garbage sampler state",
                                  "wrong shapes"])
def test_bad_checkpoints_are_one_line_and_exit_2(dataset, finished_run, tmp_path, kind):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    (out / "model.pt").unlink()
    _bad_checkpoint(kind, finished_run / "checkpoint.pt", out / "checkpoint.pt", tmp_path)
    r = run(["--data", str(dataset), "--out", str(out), "--smoke", "--epochs", "1", "--checkpoint-every", "4"])
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and str(out / "checkpoint.pt") in r.stderr, r.stderr
    assert "remove it to start" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "pwned").exists()  # a pickle's code never runs
    assert not (out / "model.pt").exists()


def test_a_full_disk_while_checkpointing_is_one_line_and_leaves_no_temporary(dataset, tmp_path):
    import resource

    out = tmp_path / "run"

    def small_files():  # writes past 256 kB fail with EFBIG (Python ignores SIGXFSZ): a full disk's class
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    r = subprocess.run([sys.executable, str(SCRIPT), "--data", str(dataset), "--out", str(out), "--smoke", "--epochs",
                        "1", "--checkpoint-every", "4"], env=_env(), capture_output=True, text=True, timeout=600,
                       preexec_fn=small_files)
    assert r.returncode == 1, (r.returncode, r.stderr)  # no traceback, no SIGABRT
    assert r.stderr.count("\n") == 1 and f"cannot write {out / 'checkpoint.pt'}: File too large" in r.stderr, r.stderr
    assert "nothing was written" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
