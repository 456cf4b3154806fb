"""``theta train --model gpt`` writes a GPT run folder; ``theta generate`` samples from it.

Tiny settings (one layer of width 16, 20 steps) keep every run to seconds; the learning
itself is tested in tests/models/test_gpt.py.
"""

import csv
import json
import math

import numpy as np
import pytest

from theta import io
from theta.autograd import no_grad
from theta.cli.runs import load_gpt_run
from theta.data import load_tinyshakespeare

TINY = ["--n-layer", "1", "--n-heads", "2", "--n-embd", "16", "--block-size", "16",
        "--eval-every", "10", "--eval-windows", "16", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def gpt_run(theta_cli, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "gpt"
    result = theta_cli("train", "--model", "gpt", "--steps", "20", *TINY, "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run, result


def test_train_gpt_writes_a_complete_run_folder(gpt_run):
    run, result = gpt_run
    for name in ("config.json", "metrics.csv", "summary.json", "checkpoint.safetensors",
                 "tokenizer.json", "model/config.json", "model/model.safetensors"):  # fmt: skip
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    # the GPT defaults: tiny-shakespeare, AdamW; the flags: the architecture
    assert config["model"] == "gpt" and config["data"] == "tinyshakespeare"
    assert config["optimizer"] == "adamw" and config["n_embd"] == 16 and config["steps"] == 20
    vocab = json.loads((run / "tokenizer.json").read_text(encoding="utf-8"))
    assert vocab["chars"] == sorted(set(load_tinyshakespeare())) and len(vocab["chars"]) == 65
    with (run / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [0, 10, 20]
    val = [float(r["val_loss"]) for r in rows]
    assert abs(val[0] - math.log(65)) < 0.1  # an untrained model is about uniform
    assert val[-1] < val[0] and rows[0]["loss"] == "" and float(rows[-1]["loss"]) > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["final"]["val_loss"] == pytest.approx(val[-1])
    assert "trained gpt" in result.stdout and "run saved to" in result.stdout
    pytest.importorskip("matplotlib")
    assert (run / "loss_curve.png").read_bytes().startswith(b"\x89PNG")


def test_generate_in_a_fresh_process_matches_the_saved_model(theta_cli, gpt_run):
    run, _ = gpt_run
    result = theta_cli("generate", str(run), "--prompt", "ROMEO:", "--max-new-tokens", "30",
                       "--seed", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout[:-1]  # print's newline
    assert text.startswith("ROMEO:") and len(text) == 36
    model, tokenizer = load_gpt_run(run)
    expected = tokenizer.decode(model.generate(tokenizer.encode("ROMEO:"), 30, seed=3))
    assert text == expected


def test_generate_is_deterministic_for_a_seed_and_greedy_with_top_k_1(theta_main, gpt_run):
    run, _ = gpt_run
    args = ("generate", str(run), "--prompt", "To be", "--max-new-tokens", "20")
    a, b = theta_main(*args, "--seed", "1"), theta_main(*args, "--seed", "1")
    c = theta_main(*args, "--seed", "2")
    assert a[0] == 0 and a == b and a[1] != c[1]
    greedy = [theta_main(*args, "--top-k", "1", "--seed", s)[1] for s in ("1", "2")]
    assert greedy[0] == greedy[1]
    model, tokenizer = load_gpt_run(run)
    ids = tokenizer.encode("To be")
    for _ in range(20):
        with no_grad():
            nxt = model(ids[None, -16:]).numpy()[0, -1].argmax()
        ids = np.append(ids, nxt)
    assert greedy[0] == tokenizer.decode(ids) + "\n"


def test_resumed_run_equals_an_uninterrupted_one(theta_main, tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    gpt = ("train", "--model", "gpt", *TINY)
    assert theta_main(*gpt, "--steps", "20", "--out", str(whole))[0] == 0
    assert theta_main(*gpt, "--steps", "10", "--out", str(part))[0] == 0
    code, _, err = theta_main(*gpt, "--steps", "20", "--out", str(part), "--resume")
    assert code == 0, err
    a, b = io.load(whole / "model"), io.load(part / "model")
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert (whole / "metrics.csv").read_text() == (part / "metrics.csv").read_text()


def test_train_gpt_on_a_text_file(theta_main, tmp_path):
    corpus = tmp_path / "poem.txt"
    corpus.write_text("the cat sat on the mat; " * 40, encoding="utf-8")
    run = tmp_path / "poem"
    code, _, err = theta_main("train", "--model", "gpt", "--data", str(corpus),
                               "--steps", "10", *TINY, "--out", str(run))  # fmt: skip
    assert code == 0, err
    vocab = json.loads((run / "tokenizer.json").read_text(encoding="utf-8"))["chars"]
    assert vocab == sorted(set("the cat sat on the mat; "))
    code, out, _ = theta_main("generate", str(run), "--prompt", "the",
                               "--max-new-tokens", "5")  # fmt: skip
    assert code == 0 and len(out) == 9 and set(out[:-1]) <= set(vocab)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--n-embd", "10", "--n-heads", "3"], "n_embd (10) must be divisible by n_heads (3)"),
        (["--block-size", "0"], "The 'block_size' parameter of GPTConfig must be an int in the range [1, inf). Got 0 instead."),  # noqa: E501
        (["--n-layer", "two"], "argument --n-layer: invalid int value"),
        (["--eval-every", "0"], "config key 'eval_every': must be an int in the range [1, inf). "
                                "Got 0 instead."),
        (["--batch-size", "0"], "config key 'batch_size' (for a GPT): must be an int in the "
                                "range [1, inf). Got 0 instead."),
        (["--val-split", "0"], "config key 'val_split' (for a GPT): must be a float in the "
                               "range (0, 1). Got 0.0 instead."),
        (["--n-embd", "1.5"], "argument --n-embd: invalid int value"),
    ],
)  # fmt: skip
def test_bad_train_flags_are_usage_errors_naming_the_flag(theta_main, args, needle):
    code, _, err = theta_main("train", "--model", "gpt", "--dry-run", *args)
    assert code == 2, err
    assert needle in err and "Traceback" not in err


def test_gpt_needs_text_and_enough_of_it(theta_main, tmp_path):
    code, _, err = theta_main("train", "--model", "gpt", "--data", "iris", "--out",
                               str(tmp_path / "a"))  # fmt: skip
    assert code == 1 and "--model gpt needs a text corpus" in err
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij" * 10, encoding="utf-8")  # 100 chars: 10 for validation
    code, _, err = theta_main("train", "--model", "gpt", "--data", str(short), *TINY,
                               "--out", str(tmp_path / "b"))  # fmt: skip
    assert code == 1
    assert "validation text has 10 characters; block_size 16 needs at least 17" in err
    code, _, err = theta_main("train", "--data", "tinyshakespeare", "--out",
                               str(tmp_path / "c"))  # fmt: skip
    assert code == 1 and "train a language model on it with --model gpt" in err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--temperature", "0"], "argument --temperature: must be a float in the range (0, inf). Got 0.0 instead."),  # noqa: E501
        (["--temperature", "hot"], "argument --temperature: must be a float in the range (0, inf). Got 'hot' instead."),  # noqa: E501
        (["--top-k", "0"], "argument --top-k: must be an int in the range [1, inf). Got 0 instead."),  # noqa: E501
        (["--max-new-tokens", "-1"], "argument --max-new-tokens: must be an int in the range [0, inf). Got -1 instead."),  # noqa: E501
        (["--seed", "x"], "argument --seed: invalid int value"),
        (["--prompt", ""], "argument --prompt: must not be empty"),
        (["--prompt", "Ω"], "argument --prompt: CharTokenizer: characters ['Ω']"),
        (["--tokens", "3"], "unrecognized arguments: --tokens"),
    ],
)
def test_bad_generate_flags_are_usage_errors_naming_the_flag(theta_main, gpt_run, args, needle):
    run, _ = gpt_run
    code, _, err = theta_main("generate", str(run), *args)
    assert code == 2, err
    assert needle in err and "Traceback" not in err


def test_generate_and_predict_refuse_the_wrong_kind_of_run(theta_main, gpt_run, tmp_path):
    run, _ = gpt_run
    code, _, err = theta_main("generate", str(tmp_path / "nope"))
    assert code == 1 and "run folder not found" in err
    code, _, err = theta_main("generate", str(tmp_path))
    assert code == 1 and "is not a GPT run" in err
    code, _, err = theta_main("predict", str(run), "1,2")
    assert code == 1 and "holds a GPT language model" in err and "theta generate" in err
