"""`harness report`: the static site for a smoke world, checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def browse(url: str, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, str]:
    """(DOM after the page's scripts ran, the browser's log) of a file:// page in headless chromium."""
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'chrome'}",
            "--enable-logging=stderr", "--v=0", "--window-size=1200,1600"]
    dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=120)
    return dom.stdout, dom.stderr


def step_rewards(dom: str) -> dict[int, list[list[tuple[str, str, str]]]]:
    """data-index of each response block of the first problem on a page -> per step, each reward model's
    (reward model, background colour, number shown) beside the step."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.out, self.current, self.sections, self.chip = {}, None, 0, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "section":
                self.sections += 1
            if self.sections != 1:
                return
            cls = a.get("class", "")
            if tag == "div" and cls.startswith("resp "):
                self.current = int(a["data-index"])
                self.out[self.current] = []
            elif tag == "div" and cls == "step" and self.current is not None:
                self.out[self.current].append([])
            elif tag == "span" and cls == "rew" and "data-rm" in a and self.current is not None:
                style = dict(part.split(":", 1) for part in a["style"].replace(" ", "").split(";") if part)
                self.chip = [a["data-rm"], style["background"], ""]

        def handle_data(self, data):
            if self.chip is not None:
                self.chip[2] += data

        def handle_endtag(self, tag):
            if tag == "span" and self.chip is not None:
                self.out[self.current][-1].append(tuple(self.chip))
                self.chip = None

    r = Reader()
    r.feed(dom)
    return r.out


def pivot_cells(dom: str) -> list[dict]:
    """Every filled cell of the site's pivot tables: its table's task and generator, the run, method and N it
    says it is, and the accuracy and CI it shows."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.table, self.cell, self.part = [], None, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "table" and "pivot" in a.get("class", "").split():
                self.table = a
            elif tag == "td" and self.table is not None and "cell" in a.get("class", "").split():
                self.cell = {"task": self.table["data-task"], "generator": self.table["data-generator"],
                             "run": a["data-run"], "method": a["data-method"], "n": int(a["data-n"]),
                             "best": "best" in a["class"].split(), "acc": "", "ci": ""}
            elif tag == "span" and self.cell is not None:
                self.part = a.get("class")

        def handle_data(self, data):
            if self.cell is not None and self.part in ("acc", "ci"):
                self.cell[self.part] += data

        def handle_endtag(self, tag):
            if tag == "span":
                self.part = None
            elif tag == "td" and self.cell is not None:
                if self.cell["acc"]:
                    self.cells.append(self.cell)
                self.cell = None
            elif tag == "table":
                self.table = None

    r = Reader()
    r.feed(dom)
    return r.cells


def check_pivots_against_run_files(dom: str, run_files: list[Path]) -> int:
    """Every pivot cell shows its run file's accuracy and 95% CI (in %, one decimal) for the run, task, generator,
    method and N it names; best-of-N and weighted vote of every run at every N shown are there, and the bold cell
    of a column is its highest. Returns the number of cells checked."""
    recorded = {}
    for f in run_files:
        d = json.loads(f.read_text())
        name = d["config"].get("label") or d["config"]["rm"]
        for r in d.get("rows") or []:
            recorded[name, r["task"], r["generator"], r["method"], r["n"]] = r
    cells = pivot_cells(dom)
    assert cells
    for c in cells:
        r = recorded[c["run"], c["task"], c["generator"], c["method"], c["n"]]
        assert c["acc"] == f"{100 * r['accuracy']:.1f}", c
        assert c["ci"] == f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]", c
    shown = {(c["run"], c["task"], c["generator"], c["n"]) for c in cells if c["method"] == "best_of_n"}
    for run, task, gen, n in shown:
        assert any(c["method"] == "weighted_vote" and (c["run"], c["task"], c["generator"], c["n"]) == (run, task,
                   gen, n) for c in cells)
    for (task, gen, method, n) in {(c["task"], c["generator"], c["method"], c["n"]) for c in cells}:
        if method not in ("best_of_n", "weighted_vote"):
            continue
        col = [c for c in cells if (c["task"], c["generator"], c["method"], c["n"]) == (task, gen, method, n)]
        top = max(recorded[c["run"], task, gen, method, n]["accuracy"] for c in col)
        assert {c["run"] for c in col if c["best"]} == {c["run"] for c in col if recorded[c["run"], task, gen,
                                                                                          method, n]["accuracy"] == top}
    return len(cells)


def console_errors(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]


@pytest.fixture
def smoke_site(smoke_cache, tmp_path):
    for rm in ("loglik", "text_hash"):  # step rewards, and one outcome score a response
        assert main(["run", "--rm", rm, "--scale", "smoke", "--threads", "1", "--n", "1,2,4,8"]) == 0
    assert main(["report", "--scale", "smoke", "--out", str(tmp_path / "site"), "--rm", "loglik",
                 "--rm", "text_hash"]) == 0
    return tmp_path / "site", smoke_cache


def test_report_writes_every_run_row_and_a_page_per_pool(smoke_site, capsys):
    site, cache_dir = smoke_site
    info = json.loads((site / "site.json").read_text())
    rows = [r for f in sorted((cache_dir / "runs").glob("*.json")) for r in json.loads(f.read_text())["rows"]]
    assert info["rows"] == len(rows) and info["runs"] == 2
    assert [p["rms"] for p in info["pools"]] == [["loglik", "text_hash"]] * 3
    html = (site / "index.html").read_text()
    assert html.count("<tr data-generator=") == len(rows)
    # one pivot a generator: both runs as rows, best-of-N and weighted vote at N = 2, 4, 8, majority vote, pass@N
    checked = check_pivots_against_run_files(html, sorted((cache_dir / "runs").glob("*.json")))
    assert checked == 3 * (2 * 2 * 3 + 2 * 3)
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere: opens offline


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium): the site was not opened "
                                             "in a browser")
def test_the_site_opens_in_a_browser_with_the_right_rows_and_step_colours(smoke_site, tmp_path):
    from harness.core.pool import load_pool
    from harness.core.scores import list_scores
    from harness.core.steps import step_spans
    from harness.evaluation.site import colour_scale, reward_text
    site, cache_dir = smoke_site
    dom, log = browse((site / "index.html").as_uri(), tmp_path, screenshot=tmp_path / "index.png")
    assert 'data-ready="1"' in dom and not console_errors(log), console_errors(log)
    rows = [r for f in sorted((cache_dir / "runs").glob("*.json")) for r in json.loads(f.read_text())["rows"]]
    assert len(re.findall(r"<tr data-generator=", dom)) == len(rows)
    best = [r for r in rows if r["generator"] == "mid" and r["method"] == "best_of_n" and r["n"] == 4
            and r["rm"] == "text_hash"]
    assert len(best) == 1 and f'{100 * best[0]["accuracy"]:.1f}' in dom
    assert check_pivots_against_run_files(dom, sorted((cache_dir / "runs").glob("*.json"))) == 3 * (12 + 6)

    # The mid pool's first page: every response's steps carry the colour of its own step rewards.
    pool_dir = next(p for p in site.iterdir() if p.name.startswith("mid"))
    dom, log = browse((pool_dir / "page-001.html").as_uri(), tmp_path, screenshot=tmp_path / "page.png")
    assert 'data-ready="1"' in dom and not console_errors(log), console_errors(log)
    info = json.loads((site / "site.json").read_text())
    pool = load_pool(next(p["path"] for p in info["pools"] if p["href"].startswith(pool_dir.name)))
    ss = {s.rm: s for s in list_scores(pool.content_hash())}
    colour = {rm: colour_scale(ss[rm]) for rm in ("loglik", "text_hash")}
    shown = step_rewards(dom)
    first = pool.problems[0]
    on_page = [j for j in shown if j < len(first.responses)][:len(first.responses)]
    assert sorted(on_page) == list(range(len(first.responses)))  # every response of the first problem is shown
    multi = 0
    for j in on_page:
        steps_j = ss["loglik"].step_scores[0][j]
        assert len(steps_j) == len(step_spans(first.responses[j].text))  # loglik scores the harness's steps
        (outcome,) = ss["text_hash"].step_scores[0][j]  # one score for the whole response
        # beside every step: loglik's own step reward and text_hash's one score, each as a number on its colour
        assert shown[j] == [[("loglik", colour["loglik"](v), reward_text(v)),
                             ("text_hash", colour["text_hash"](outcome), reward_text(outcome))] for v in steps_j], j
        multi += len(steps_j) > 1
    assert multi > 0  # some response has several steps, each with its own colour
    for name in ("index.png", "page.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    keep = os.environ.get("HARNESS_SCREENSHOTS")  # a folder to keep the screenshots in, for a person to look at
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("index.png", "page.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)


def test_a_problem_page_shows_each_wrong_responses_true_and_predicted_first_wrong_step(smoke_site):
    """loglik's run chose a step-reward threshold: its predicted first wrong step is the first step below it; the
    true one is the pool's error_step. text_hash (one score a response) predicts nothing."""
    from harness.core.pool import load_pool
    from harness.core.scores import list_scores
    from harness.evaluation.step_eval import first_below
    site, cache_dir = smoke_site
    run = json.loads((cache_dir / "runs" / "arith-smoke-loglik.json").read_text())
    thr = run["process"]["views"]["step reward"]["threshold"]
    info = json.loads((site / "site.json").read_text())
    entry = next(p for p in info["pools"] if p["href"].startswith("mid"))
    pool = load_pool(entry["path"])
    ss = next(s for s in list_scores(pool.content_hash()) if s.rm == "loglik")
    html = (site / entry["href"]).parent.joinpath("page-001.html").read_text()
    html = html[:html.index("</section>") + len("</section>")]  # the first problem's responses
    blocks = dict(re.findall(r'data-index="(\d+)">(.*?)</div>\s*(?=<div class="resp|</section>)', html, re.S))
    first = pool.problems[0]
    assert sorted(map(int, blocks)) == list(range(len(first.responses)))
    wrong = 0
    for j, r in enumerate(first.responses):
        block = blocks[str(j)]
        k = first_below(ss.step_scores[0][j], thr)
        assert f"loglik predicts first wrong step: {'none' if k < 0 else f'step {k + 1}'}" in block
        assert "text_hash predicts" not in block
        if r.correct:
            assert "first wrong step:" not in block.replace("predicts first wrong step:", "")
        else:
            wrong += 1
            e = r.extra["error_step"]
            assert f"first wrong step: {'none' if e is None else f'step {e}'}" in block
    assert wrong > 0


def test_a_score_set_is_thresholded_in_the_view_it_stores():
    """An implicit PRM scored with reward=accumulative stores q_t: its predicted first wrong step uses the run's q_t
    threshold on those numbers, not the per-step threshold (which would read a running sum as a step reward)."""
    from harness.core.scores import ScoreSet
    from harness.evaluation.site import predicted_steps, step_thresholds, stored_view
    runs = [{"config": {"rm": "implicit_ce", "label": "acc"},
             "process": {"status": "measured", "views": {"step reward": {"threshold": 9.0},
                                                         "q_t": {"threshold": 9.0}}}},
            {"config": {"rm": "implicit_ce", "label": None},
             "process": {"status": "measured", "views": {"step reward": {"threshold": -0.5},
                                                         "q_t": {"threshold": 0.25}}}},
            {"config": {"rm": "orm"}, "process": {"status": "no process reward"}}]
    thr = step_thresholds(runs)
    assert thr == {"implicit_ce": ({"step reward": -0.5, "q_t": 0.25}, "implicit_ce")}  # the unlabelled run first
    single = ScoreSet("implicit_ce", "h", [[[0.6, -0.4, -0.3]]], {"reward": "single"})
    acc = ScoreSet("implicit_ce", "h", [[[0.6, 0.2, -0.1]]], {"reward": "accumulative"})  # its running sums
    assert (stored_view(single), stored_view(acc)) == ("step reward", "q_t")
    # per-step rewards 0.6, -0.4, -0.3 against -0.5: none below; q_t 0.6, 0.2, -0.1 against 0.25: step 2
    assert predicted_steps(single.step_scores[0][0], 3, "implicit_ce", thr["implicit_ce"], stored_view(single))[
        "text"] == "none"
    got = predicted_steps(acc.step_scores[0][0], 3, "implicit_ce", thr["implicit_ce"], stored_view(acc))
    assert (got["step"], got["text"], got["threshold"], got["view"]) == (1, "step 2", "0.25", "q_t")
    # the per-step threshold on the stored q_t would have said "none": the bug this guards against
    assert predicted_steps(acc.step_scores[0][0], 3, "implicit_ce", thr["implicit_ce"])["text"] == "none"
    assert predicted_steps([0.1], 3, "implicit_ce", thr["implicit_ce"], "q_t") is None  # an outcome score
    assert predicted_steps([0.1, 0.2, 0.3], 3, "orm", None) is None
