"""``theta report RUN``: one self-contained HTML page per run folder, for every kind of run."""

import base64
import csv
import json
from html.parser import HTMLParser

import numpy as np
import pytest

SECTIONS = ["Run", "Hyperparameters", "Parameters", "Pictures", "Final metrics", "Predictions"]


class Page(HTMLParser):
    """What a browser would need from the page: headings, images, table cells, links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: dict[str, list[str]] = {"h1": [], "h2": []}
        self.images: list[str] = []
        self.cells: list[str] = []
        self.external: list[str] = []
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "td", "pre"):
            self._open = tag
        if tag == "img":
            self.images.append(attrs["src"])
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.external.append(attrs[key])
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open in self.headings:
            self.headings[self._open].append(data)
        elif self._open in ("td", "pre"):
            self.cells.append(data)


def _pngs_inlined(page: Page) -> list[bytes]:
    prefix = "data:image/png;base64,"
    assert all(src.startswith(prefix) for src in page.images)
    return [base64.b64decode(src[len(prefix):]) for src in page.images]


@pytest.fixture(scope="module")
def iris_run(theta_cli, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "iris"
    result = theta_cli("train", "--data", "iris", "--epochs", "5", "--hidden", "8", "--out",
                       str(run), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run


def test_report_of_a_training_run_end_to_end(theta_cli, iris_run):
    result = theta_cli("report", str(iris_run))
    assert result.returncode == 0, result.stderr
    target = iris_run / "report.html"
    assert result.stdout == f"report saved to {target}\n"
    page = Page(target.read_text(encoding="utf-8"))
    assert page.headings["h1"] == ["iris"] and page.headings["h2"] == SECTIONS
    assert page.external == []  # nothing to fetch: no network, no scripts
    pictures = sorted(p.read_bytes() for p in iris_run.glob("*.png"))
    if pictures:  # with the plot extra: every picture of the folder, inlined, and the metrics
        inlined = _pngs_inlined(page)
        assert sorted(set(inlined) & set(pictures)) == pictures and len(inlined) == len(
            pictures) + 1
        assert all(png.startswith(b"\x89PNG") for png in inlined)
    # hyperparameters, learned parameters (shapes of the saved model) and final metrics
    cells = page.cells
    assert cells[cells.index("hidden") + 1] == "[8]" and cells[cells.index("epochs") + 1] == "5"
    assert cells[cells.index("0.weight") + 1] == "8×4"
    assert cells[cells.index("2.bias") + 1] == "3"
    summary = json.loads((iris_run / "summary.json").read_text())
    accuracy = summary["final"]["val_accuracy"]
    assert cells[cells.index("final.val_accuracy") + 1] == f"{accuracy:.6g}"
    # predictions: ten rows of iris, truth against what `theta predict` says
    predicted = theta_cli("predict", str(iris_run), "5.1,3.5,1.4,0.2").stdout.strip()
    row0 = cells.index("5.1, 3.5, 1.4, 0.2")
    assert cells[row0 - 2] == "0" and cells[row0 + 1 : row0 + 3] == ["setosa", predicted]
    # 20 in the predictions, 3 in the table of precision and recall
    assert sum(c in ("setosa", "versicolor", "virginica") for c in cells) == 23


def test_missing_run_is_a_one_line_error(theta_cli, tmp_path):
    result = theta_cli("report", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr == f"theta: error: run folder not found: {tmp_path / 'nope'}\n"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--outt", "x.html"], "unrecognized arguments: --outt"),
        ([], "the following arguments are required: RUN"),
        (["--overwrite=yes"], "argument --overwrite: ignored explicit argument 'yes'"),
        (["--out"], "argument --out: expected one argument"),
    ],
)
def test_bad_flags_are_usage_errors(theta_cli, args, needle, iris_run):
    run = [str(iris_run)] if args else []
    result = theta_cli("report", *run, *args)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_a_page_theta_wrote_is_regenerated_but_other_files_need_overwrite(theta_main, iris_run,
                                                                          tmp_path):  # fmt: skip
    target = tmp_path / "pages" / "iris.html"
    target.parent.mkdir()
    assert theta_main("report", str(iris_run), "--out", str(target))[0] == 0
    assert theta_main("report", str(iris_run), "--out", str(target))[0] == 0  # theta's own page
    assert theta_main("report", str(iris_run))[0] == 0
    assert theta_main("report", str(iris_run))[0] == 0  # RUN/report.html, again
    target.write_text("old")
    code, _, err = theta_main("report", str(iris_run), "--out", str(target))
    assert code == 1
    assert err == f"theta: error: {target} already exists and is not a page theta wrote; " \
                  "pass --overwrite to replace it\n"
    assert target.read_text() == "old"
    assert theta_main("report", str(iris_run), "--out", str(target), "--overwrite")[0] == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["iris.html"]  # written atomically


def test_a_folder_that_is_not_a_run(theta_main, tmp_path):
    code, _, err = theta_main("report", str(tmp_path))
    assert code == 1
    assert "is not a run folder: it has neither config.json nor summary.json" in err


def test_report_of_a_gpt_run_shows_a_generated_sample(theta_main, tmp_path):
    run = tmp_path / "gpt"
    code, _, err = theta_main("train", "--model", "gpt", "--steps", "3", "--n-layer",
                               "1", "--n-heads", "2", "--n-embd", "16", "--block-size", "16",
                               "--eval-every", "3", "--eval-windows", "4", "--quiet",
                               "--out", str(run))  # fmt: skip
    assert code == 0, err
    assert theta_main("report", str(run))[0] == 0
    page = Page((run / "report.html").read_text(encoding="utf-8"))
    assert page.headings["h2"] == SECTIONS
    assert "wte.weight" in page.cells and "blocks.0.attn.in_proj_weight" in page.cells
    from theta.cli.runs import load_gpt_run

    model, tokenizer = load_gpt_run(run)
    sample = tokenizer.decode(model.generate(tokenizer.encode("\n"), 300, seed=0)[1:])
    assert sample in page.cells


def test_report_of_a_bandit_run_shows_the_last_episodes(theta_main, tmp_path):
    pytest.importorskip("gymnasium")
    run = tmp_path / "bandit"
    assert theta_main("rl", "--env", "Bandit-v0", "--agent", "ucb1", "--steps", "50",
                       "--eval-episodes", "2", "--out", str(run), "--quiet")[0] == 0  # fmt: skip
    assert theta_main("report", str(run))[0] == 0
    page = Page((run / "report.html").read_text(encoding="utf-8"))
    assert page.headings["h2"] == SECTIONS
    assert "agent/state.safetensors" in (run / "report.html").read_text(encoding="utf-8")
    assert "counts_" in page.cells and "values_" in page.cells
    assert "hyperparameters.c" in page.cells  # the agent's hyperparameters, flattened
    with (run / "returns.csv").open() as fh:
        last = list(csv.reader(fh))[-10:]
    assert page.cells[-30:] == [value for row in last for value in row]


def test_report_of_a_search_shows_the_leaderboard_and_best_parameters(theta_main, tmp_path):
    run = tmp_path / "search"
    run.mkdir()
    columns = ["mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time",
               "param_alpha", "param_solver", "params", "split0_test_score",
               "split1_test_score", "split2_test_score", "mean_test_score", "std_test_score",
               "rank_test_score"]  # fmt: skip
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        score = 0.5 + 0.03 * i
        rows.append([0.01, 0.001, 0.002, 0.0001, 10.0 ** -i, "cholesky", "{}", score, score,
                     score, score, 0.01, 12 - i])  # fmt: skip
    rng.shuffle(rows)
    with (run / "results.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([columns, *rows])
    (run / "config.json").write_text(json.dumps({"estimator": "Ridge", "cv": 3}))
    (run / "summary.json").write_text(json.dumps({"best_params": {"alpha": 1e-11},
                                                  "best_score": 0.83}))  # fmt: skip
    pytest.importorskip("matplotlib")
    from theta.plot import search_scores

    search_scores({"param_alpha": [r[4] for r in rows], "mean_test_score": [r[10] for r in rows]},
                  run / "scores.png")  # fmt: skip
    assert theta_main("report", str(run))[0] == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    assert page.headings["h1"] == ["search"] and page.headings["h2"] == SECTIONS
    assert len(page.images) == 1 and "hyperparameter search (theta tune)" in html
    assert page.cells[page.cells.index("alpha") + 1] == "1e-11"  # best parameters
    # the leaderboard: the ten best by rank, only the columns a reader wants (not 13)
    assert "<th>rank_test_score</th>" in html and "split0_test_score" not in html
    board = page.cells[-60:]  # param_alpha, param_solver, params, mean, std, rank
    assert board[5::6] == [str(r) for r in range(1, 11)]
    assert board[0::6] == [f"{10.0 ** -i}" for i in range(11, 1, -1)]


def test_text_from_the_run_folder_is_escaped(theta_main, tmp_path):
    run = tmp_path / "odd"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"note": "<script>alert(1)</script> & more"}))
    assert theta_main("report", str(run))[0] == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    page = Page(html)
    assert page.external == [] and page.headings["h2"] == SECTIONS


def _section_cells(html_text: str, title: str) -> list[str]:
    """The table cells of one section of a page."""
    start = html_text.index(f">{title}</h2>")
    end = html_text.find("<h2", start)
    return Page(html_text[start : end if end > 0 else None]).cells


def test_the_run_section_says_version_date_wall_time_and_machine(theta_cli, iris_run):
    assert theta_cli("report", str(iris_run)).returncode == 0
    text = (iris_run / "report.html").read_text(encoding="utf-8")
    facts = dict(zip(*[iter(_section_cells(text, "Run"))] * 2, strict=True))
    stamp = json.loads((iris_run / "run.json").read_text())
    summary = json.loads((iris_run / "summary.json").read_text())
    from theta import __version__

    assert facts["status"] == "finished" and facts["kind"] == "mlp" and facts["data"] == "iris"
    assert facts["theta version"] == __version__ == stamp["theta_version"]
    assert facts["machine"] == stamp["machine"] and "CPUs" in stamp["machine"]
    assert facts["steps"] == str(summary["steps"]) and facts["wall time"].endswith(" s")
    assert facts["date"][:4].isdigit() and stamp["started"] <= stamp["ended"]


def test_hyperparameters_are_only_those_the_model_uses(theta_cli, iris_run):
    assert theta_cli("report", str(iris_run)).returncode == 0
    text = (iris_run / "report.html").read_text(encoding="utf-8")
    names = _section_cells(text, "Hyperparameters")[0::2]
    config = json.loads((iris_run / "config.json").read_text())
    assert {"n_layer", "block_size", "channels", "eval_every", "loss", "steps"} <= set(config)
    assert set(names) == set(config) - {"n_layer", "n_heads", "n_embd", "block_size", "bias",
                                        "channels", "eval_every", "eval_windows", "loss",
                                        "steps"}  # fmt: skip


@pytest.mark.parametrize(
    "model, shown, hidden",
    [
        ({"model": "gpt"}, {"n_layer", "block_size", "eval_every", "dropout", "steps"},
         {"hidden", "channels", "loss", "standardize", "activation", "epochs"}),
        ({"model": "cnn", "data": "digits"}, {"channels", "hidden", "epochs"},
         {"n_layer", "loss", "steps", "eval_windows"}),
        ({"model": "linear", "loss": "mae", "steps": 5}, {"loss", "steps", "standardize"},
         {"hidden", "activation", "dropout", "epochs", "n_embd"}),
    ],
)
def test_used_hyperparameters_by_model(model, shown, hidden):
    from theta.cli.config import resolve
    from theta.cli.report import used_hyperparameters

    config = resolve(model).to_dict()
    used = used_hyperparameters("gpt" if model["model"] == "gpt" else "train", config)
    assert shown <= set(used) and not hidden & set(used)
    assert all(used[key] == config[key] for key in used)


def test_sampled_rows_of_the_validation_split_are_marked(theta_cli, iris_run):
    assert theta_cli("report", str(iris_run)).returncode == 0
    text = (iris_run / "report.html").read_text(encoding="utf-8")
    cells = _section_cells(text, "Predictions")
    from theta.data import load_dataset, train_val_split

    iris = load_dataset("iris")
    _, X_val, _, _ = train_val_split(iris.X, iris.y, val_fraction=0.2, rng=0)  # the run's split
    held_out = {tuple(np.round(row, 4)) for row in X_val}
    marked = 0
    for i in range(0, len(cells), 5):
        row, split, features = int(cells[i]), cells[i + 1], cells[i + 2]
        assert split == ("validation" if tuple(np.round(iris.X[row], 4)) in held_out
                         else "training")  # fmt: skip
        assert features.startswith(f"{iris.X[row][0]:.4g}, ")
        marked += split == "validation"
    assert 0 < marked < 10 and text.count('<tr class="validation">') <= marked


def test_per_class_precision_and_recall_match_scikit_learn(theta_cli, iris_run):
    metrics = pytest.importorskip("sklearn.metrics")
    assert theta_cli("report", str(iris_run)).returncode == 0
    text = (iris_run / "report.html").read_text(encoding="utf-8")
    cells = _section_cells(text, "Final metrics")
    from theta.cli.runs import load_run
    from theta.data import load_dataset, train_val_split

    iris = load_dataset("iris")
    _, X_val, _, y_val = train_val_split(iris.X, iris.y, val_fraction=0.2, rng=0)
    predicted = load_run(iris_run).predict(X_val)
    truth = [iris.target_names[i] for i in y_val]
    p, r, _, n = metrics.precision_recall_fscore_support(truth, predicted,
                                                         labels=list(iris.target_names),
                                                         zero_division=0.0)  # fmt: skip
    table = cells[cells.index("setosa"):]
    expected = [[name, f"{a:.3f}", f"{b:.3f}", str(c)]
                for name, a, b, c in zip(iris.target_names, p, r, n, strict=True)]  # fmt: skip
    assert table == [v for row in expected for v in row]
    assert f"on the {len(y_val)} validation rows" in text
