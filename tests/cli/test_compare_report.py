"""``theta report RUN RUN ...``: one page comparing runs; ``theta report DIR``: a page per run.

The comparison page in a browser is tested in test_report_browser.py.
"""

import base64
import json
from html.parser import HTMLParser

import pytest

SECTIONS = ["Runs", "Hyperparameters", "Curves", "Final metrics"]


@pytest.fixture(scope="module")
def runs(theta_cli, tmp_path_factory):
    """Two iris runs that differ in their hidden layer and learning rate."""
    folder = tmp_path_factory.mktemp("compare") / "runs"
    for name, hidden, lr in (("narrow", "4", "0.01"), ("wide", "16", "0.05")):
        result = theta_cli("train", "--data", "iris", "--epochs", "3", "--hidden", hidden,
                           "--lr", lr, "--out", str(folder / name), "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr
    return folder


def _rows(html_text: str, title: str, n_columns: int) -> list[list[str]]:
    start = html_text.index(f">{title}</h2>")
    end = html_text.find("<h2", start)
    cells = Page(html_text[start : end if end > 0 else None]).cells
    return [cells[i : i + n_columns] for i in range(0, len(cells), n_columns)]


class Page(HTMLParser):
    """Headings, images, external references and table cells (empty ones too: the ≠ column
    is empty on rows that agree)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: dict[str, list[str]] = {"h1": [], "h2": []}
        self.images: list[str] = []
        self.external: list[str] = []
        self.cells: list[str] = []
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._open = tag if tag in ("h1", "h2", "td") else None
        if tag == "td":
            self.cells.append("")
        if tag == "img":
            self.images.append(attrs["src"])
        self.external += [attrs[k] for k in ("src", "href")
                          if k in attrs and not attrs[k].startswith("data:")]  # fmt: skip
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open in self.headings:
            self.headings[self._open].append(data)
        elif self._open == "td":
            self.cells[-1] += data


def test_comparison_page_end_to_end(theta_cli, runs):
    result = theta_cli("report", str(runs / "narrow"), str(runs / "wide"))
    assert result.returncode == 0, result.stderr
    target = runs / "compare.html"
    assert result.stdout == f"report saved to {target}\n"
    text = target.read_text(encoding="utf-8")
    page = Page(text)
    assert page.headings["h1"] == ["Comparing 2 runs"] and page.headings["h2"] == SECTIONS
    assert page.external == []
    # the runs, one row each
    runs_rows = _rows(text, "Runs", 9)
    assert [row[0] for row in runs_rows] == ["narrow", "wide"]
    assert all(row[1] == "finished" and row[2] == "mlp" and row[3] == "iris" for row in runs_rows)
    # hyperparameters side by side; exactly the differing ones marked
    hyper = _rows(text, "Hyperparameters", 4)
    configs = [json.loads((runs / n / "config.json").read_text()) for n in ("narrow", "wide")]
    assert {row[1] for row in hyper if row[0] == "≠"} == {"hidden", "lr"}
    assert text.count('<tr class="differs">') == 2
    by_name = {row[1]: row[2:] for row in hyper}
    assert by_name["hidden"] == ["[4]", "[16]"] and by_name["lr"] == ["0.01", "0.05"]
    assert by_name["epochs"] == ["3", "3"] and "n_layer" not in by_name and "loss" not in by_name
    assert set(by_name) < set(configs[0])
    # final metrics of both runs, as their summaries say
    finals = {row[0]: row[1:] for row in _rows(text, "Final metrics", 3)}
    summaries = [json.loads((runs / n / "summary.json").read_text()) for n in ("narrow", "wide")]
    assert set(finals) == set(summaries[0]["final"])
    for key, values in finals.items():
        assert values == [f"{s['final'][key]:.6g}" for s in summaries]
    pytest.importorskip("matplotlib")
    prefix = "data:image/png;base64,"
    assert len(page.images) == 2  # loss curves and metric curves, both runs on each
    assert all(base64.b64decode(src[len(prefix):]).startswith(b"\x89PNG") for src in page.images)


def test_a_folder_of_runs_gets_a_page_in_every_run(theta_cli, runs, tmp_path):
    result = theta_cli("report", str(runs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"report saved to {runs / n / 'report.html'}"
                                          for n in ("narrow", "wide")]  # fmt: skip
    assert Page((runs / "wide" / "report.html").read_text()).headings["h1"] == ["wide"]
    again = theta_cli("report", str(runs))  # theta's own pages: regenerated, no --overwrite
    assert again.returncode == 0, again.stderr
    refused = theta_cli("report", str(runs), "--out", str(tmp_path / "x.html"))
    assert refused.returncode == 2 and "argument --out" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x.html").exists()


def test_comparison_out_and_overwrite(theta_cli, runs, tmp_path):
    target = tmp_path / "both.html"
    target.write_text("mine")
    args = ["report", str(runs / "narrow"), str(runs / "wide"), "--out", str(target)]
    refused = theta_cli(*args)
    assert refused.returncode == 1 and target.read_text() == "mine"
    assert refused.stderr == f"theta: error: {target} already exists and is not a page theta " \
                             "wrote; pass --overwrite to replace it\n"
    assert theta_cli(*args, "--overwrite").returncode == 0
    assert theta_cli(*args).returncode == 0  # now it is theta's page
    assert Page(target.read_text()).headings["h1"] == ["Comparing 2 runs"]


def test_a_folder_that_is_not_a_run_is_refused_in_a_comparison(theta_cli, runs, tmp_path):
    result = theta_cli("report", str(runs / "wide"), str(tmp_path))
    assert result.returncode == 1
    assert "is not a run folder: it has neither config.json nor summary.json" in result.stderr


def test_help_names_defaults(theta_cli):
    help_text = " ".join(theta_cli("report", "--help").stdout.split())
    assert "default: RUN/report.html" in help_text and "(default: off;" in help_text
