#!/usr/bin/python3
"""Checks DIR/plots/index.html as analysis/plots.py writes it (no browser; see check_page.sh).

    /usr/bin/python3 tests/html/test_index.py DIR [plots.py options, e.g. --vs model.skip=32 --margin 0.5]

Runs plots.py on DIR twice. First with a missing fcnlab binary: it must exit 0, warn on stderr and
the page must say why it has no report table. Then with the real binary ($FCNLAB or --fcnlab; the
default of plots.py otherwise) and checks the page:
  - every PNG plots.py wrote is an <img> whose file exists and is a PNG; no other <img>;
  - the report table has the cells of `fcnlab report DIR --ci` (Markdown; the same --by, --vs,
    --margin, --alpha, and --report-metrics as --metrics), cell for cell, and with --vs the legend
    explains *, ≈ and undecided cells and counts the verdicts as the report does;
  - the run list has one row per DIR/*.h5, in name order; a run with a log in .work/<run_id>/
    links logs/<run_id>.log, a copy of it (stdout.log, else train.log), and the others say "no log";
  - no <script>, no http(s) URL.
Exit 0 when every check holds, 1 (listing the failures) otherwise.
"""
import argparse
import html.parser
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOTS = os.path.join(ROOT, "analysis", "plots.py")
failures = []
# plots.py's options passed on to `fcnlab report` (argparse name -> report's flag).
REPORT_FLAGS = {"by": "--by", "report_metrics": "--metrics", "vs": "--vs", "margin": "--margin", "alpha": "--alpha"}


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


class Page(html.parser.HTMLParser):
    """The page's images, links, scripts, and the cell texts of each table by id."""

    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.scripts, self.tables, self.ids = [], [], 0, {}, set()
        self.table, self.row, self.cell = None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.ids.add(a.get("id"))
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "a":
            self.links.append(a.get("href", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self.table = self.tables.setdefault(a.get("id", ""), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.table = self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def run_plots(directory, options):
    p = subprocess.run([sys.executable, PLOTS, directory, *options], capture_output=True, text=True)
    check(p.returncode == 0, f"plots.py {' '.join(options)} exited {p.returncode}: {p.stderr[-2000:]}")
    return p


def parse(directory):
    path = os.path.join(directory, "plots", "index.html")
    if not check(os.path.isfile(path), f"{path} not written"):
        return None, ""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    page = Page()
    page.feed(text)
    return page, text


def check_missing_binary(directory, options):
    p = run_plots(directory, [*options, "--fcnlab", "/nonexistent/fcnlab"])
    check("warning: index.html shows no report table" in p.stderr, "no warning for a missing fcnlab binary")
    page, text = parse(directory)
    if page:
        check("report-note" in page.ids and "no fcnlab executable at /nonexistent/fcnlab" in text,
              "the page does not say why it has no report table")
        check("report" not in page.tables, "a report table without a binary")


def written_pngs(stdout):
    """The PNG files plots.py names on its last line ('... -> a.png, b.png, index.html')."""
    names = stdout.strip().splitlines()[-1].split(" -> ", 1)[-1].split(", ")
    return [os.path.basename(n) for n in names if n.endswith(".png")]


def check_images(page, plots_dir, pngs):
    check(sorted(page.imgs) == sorted(pngs), f"<img> {page.imgs} != written PNGs {pngs}")
    for src in page.imgs:
        path = os.path.join(plots_dir, src)
        ok = os.path.isfile(path) and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        check(ok, f"<img src={src!r}>: not a PNG file in {plots_dir}")


def md_table(md):
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]


def check_report(page, text, directory, fcnlab, a):
    cmd = [fcnlab, "report", directory, "--ci"]
    for flag in REPORT_FLAGS:
        value = getattr(a, flag)
        cmd += [REPORT_FLAGS[flag], value] if value else []
    md = subprocess.run(cmd, capture_output=True, text=True)
    if not check(md.returncode == 0, f"{' '.join(cmd)} exited {md.returncode}: {md.stderr[-1000:]}"):
        return
    expected, got = md_table(md.stdout), page.tables.get("report", [])
    check(got == expected, f"report table differs from `fcnlab report --ci`:\n  page: {got}\n  md:   {expected}")
    words = ["significant", "adjusted p", "mean ± std over the group's n seeds"] if a.vs else ["mean ± std"]
    words += ["Undecided", "equivalent"] if a.vs else []
    words += ["two one-sided tests"] if a.vs and a.margin else []
    verdicts = re.search(r"^Verdicts: \d+ significant, \d+ equivalent, \d+ undecided, \d+ without a test",
                         md.stdout, re.M)
    words += [verdicts.group(0)] if verdicts else []
    for w in words:
        check(w in text, f"legend lacks {w!r}")


def work_log(directory, stem):
    for name in ("stdout.log", "train.log"):
        path = os.path.join(directory, ".work", stem, name)
        if os.path.isfile(path):
            return path
    return None


def check_runs(page, directory):
    stems = sorted(n[:-3] for n in os.listdir(directory) if n.endswith(".h5"))
    rows = page.tables.get("runs", [])[1:]
    check(len(rows) == len(stems), f"{len(rows)} run rows for {len(stems)} run files")
    for stem, row in zip(stems, rows):
        log = work_log(directory, stem)
        href = f"logs/{stem}.log"
        if log is None:
            check(row[-1] == "no log", f"{stem}: log cell {row[-1]!r} without a log in .work")
            continue
        copy = os.path.join(directory, "plots", href)
        check(href in page.links, f"{stem}: no link to {href}")
        check(os.path.isfile(copy) and open(copy, "rb").read() == open(log, "rb").read(),
              f"{href} is not a copy of {log}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    for flag in ["--fcnlab", *(f"--{f.replace('_', '-')}" for f in REPORT_FLAGS)]:
        p.add_argument(flag, default="")
    a, rest = p.parse_known_args()
    options = rest + [x for f in REPORT_FLAGS if getattr(a, f) for x in (f"--{f.replace('_', '-')}", getattr(a, f))]
    check_missing_binary(a.dir, options)
    fcnlab = a.fcnlab or os.environ.get("FCNLAB") or os.path.join(ROOT, "build", "src", "cli", "fcnlab")
    out = run_plots(a.dir, [*options, "--fcnlab", fcnlab])
    page, text = parse(a.dir)
    if page:
        check_images(page, os.path.join(a.dir, "plots"), written_pngs(out.stdout))
        check_report(page, text, a.dir, fcnlab, a)
        check_runs(page, a.dir)
        check(page.scripts == 0 and not re.search(r"(src|href)=\"https?:", text), "a script or an external URL")
    for f in failures:
        print(f"test_index.py: FAIL: {f}", file=sys.stderr)
    print(f"test_index.py: {'FAILED' if failures else 'ok'}: {a.dir}/plots/index.html")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
