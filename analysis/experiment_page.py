"""DIR/plots/index.html: one self-contained page per experiment, written by plots.py.

The page shows the `fcnlab report DIR --ci --format json` table (rendered as the Markdown report
renders its cells) with the legend of its marks, every plot plots.py wrote, and the run list with
a copy of each run's log in DIR/plots/logs/<run_id>.log. Plain HTML and inline CSS: no script, no
external URL; images and logs are referenced by relative file name, so the plots folder can be
copied or opened offline. Every string read from a file is escaped.
"""
import collections
import html
import json
import math
import os
import shutil
import subprocess
import urllib.parse

CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-family: monospace; }
div.wide { overflow-x: auto; }
td.sig { background: #d9f2d9; } td.eq { background: #dde8f8; } td.und { background: #fff4d6; }
td.bad { background: #f8d9d9; }
.note { border: 1px solid #d33; background: #fdeaea; padding: 0.6em; }
.warn { color: #a40; } img { max-width: 100%; border: 1px solid #ddd; margin: 0.4em 0; }
ul.legend li { margin: 0.2em 0; } code, pre { font-size: 0.9em; }
"""

NAV = ('<p><a href="#report-section">Report</a> · <a href="#plots-section">Plots</a> · '
       '<a href="#runs-section">Runs</a></p>')
LOG_NAMES = ("stdout.log", "train.log")  # a sweep child's whole output; else `fcnlab train`'s own log


def esc(value):
    return html.escape(str(value), quote=True)


def find_fcnlab(option):
    """The fcnlab binary: --fcnlab, else $FCNLAB, else build/src/cli/fcnlab in this repository."""
    if option:
        return option
    if os.environ.get("FCNLAB"):
        return os.environ["FCNLAB"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "build", "src", "cli", "fcnlab")


def report_command(fcnlab, directory, options):
    """`fcnlab report DIR --ci --format json` plus the options given (a dict flag -> value)."""
    cmd = [fcnlab, "report", directory, "--ci", "--format", "json"]
    for flag, value in options.items():
        if value:
            cmd += [flag, value]
    return cmd


def run_report(cmd):
    """(report dict, None) or (None, why not)."""
    if not os.path.isfile(cmd[0]) or not os.access(cmd[0], os.X_OK):
        return None, f"no fcnlab executable at {cmd[0]} (build it, or pass --fcnlab PATH or set FCNLAB)"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"fcnlab report could not run: {e}"
    if p.returncode != 0:
        return None, f"fcnlab report exited {p.returncode}: {p.stderr.strip()[-2000:]}"
    try:
        return json.loads(p.stdout), None
    except ValueError as e:
        return None, f"fcnlab report printed no JSON ({e})"


# --- the report table: the cells as `fcnlab report` renders them in Markdown -------------------

def num(v, signed=False):
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def metric_cell(c):
    s = num(c["mean"])
    if c.get("std") is not None:
        s += f" ± {num(c['std'])}"
    if c.get("ci"):
        s += f" [{num(c['ci'][0])}, {num(c['ci'][1])}]"
    return s


def p_text(p):
    if p is None or not math.isfinite(p):
        return "-"
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def verdict(d):
    """'sig', 'eq', 'und' or 'none' (no test); a cell both * and ≈ counts under both."""
    if d.get("no_test") is not None:
        return "none"
    if d["significant"]:
        return "sig"
    return "eq" if d.get("equivalent") else "und"


def diff_cell(d):
    """(text, css class) of one Δ cell."""
    s = num(d["diff"], signed=True)
    if d.get("no_test") is not None:
        return f"{s} (no test: {d['no_test']})", "none"
    if d.get("ci"):
        s += f" [{num(d['ci'][0], True)}, {num(d['ci'][1], True)}]"
    s += " " + p_text(d.get("p_adjusted")) + ("*" if d["significant"] else "") + ("≈" if d.get("equivalent") else "")
    if verdict(d) == "und":
        s += f", {d['seeds_needed']} seeds" if d.get("seeds_needed") is not None else ", —"
    return s, verdict(d)


def diff_cells(group, metrics):
    diff = group.get("diff")
    if diff is None:
        return [("n/a", "none")] * len(metrics)
    if diff["is_reference"]:
        return [("ref", "none")] * len(metrics)
    return [diff_cell(diff["metrics"][m]) if diff["metrics"].get(m) else ("-", "none") for m in metrics]


def report_table(rep):
    by, metrics, vs = rep["by"], rep["metrics"], rep.get("vs")
    vs_label = f"{vs['key']}={vs['value']}" if vs else ""
    head = [*by] if by else ["runs"]
    head += ["n", *metrics] + ([f"Δ {m} vs {vs_label}" for m in metrics] if vs else [])
    rows = ["<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for g in rep["groups"]:
        cells = [f"<td>{esc(g['values'].get(k, ''))}</td>" for k in by] or ["<td>all</td>"]
        n = f"{g['n']} pooled" if g.get("pooled") else str(g["n"])
        cells.append(f'<td class="num">{esc(n)}</td>')
        cells += [f'<td class="num">{esc(metric_cell(g["metrics"][m]))}</td>' for m in metrics]
        if vs:
            cells += [f'<td class="num {cls}">{esc(t)}</td>' for t, cls in diff_cells(g, metrics)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<div class="wide"><table id="report">\n' + "\n".join(rows) + "\n</table></div>"


def verdict_counts(rep):
    """As the line under `fcnlab report`'s table: a cell both * and ≈ counts under both."""
    counts = {"sig": 0, "eq": 0, "und": 0, "none": 0}
    for g in rep["groups"]:
        diff = g.get("diff") or {"is_reference": True}
        for d in [] if diff["is_reference"] else diff["metrics"].values():
            counts["none"] += d.get("no_test") is not None
            counts["sig"] += bool(d["significant"])
            counts["eq"] += bool(d.get("equivalent"))
            counts["und"] += verdict(d) == "und"
    return counts


def legend(rep):
    level = f"{100 * rep['level']:g}%"
    boot = rep.get("bootstrap")
    images = f"{boot['resamples']} bootstrap resamples of the val images" if boot else "no image bootstrap"
    items = [f"<b>Cells</b>: mean ± std over the group's n seeds; [lo, hi]: {level} t interval of the group mean "
             f"over seeds <i>and</i> val images ({images}, runs held fixed); none for a group of one run."]
    vs = rep.get("vs")
    if vs:
        items += vs_legend(rep, f"{vs['key']}={vs['value']}", level)
    items.append("The intervals, tests and their assumptions: README, “How to read a verdict”.")
    return '<ul class="legend">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def swatch(css_class, word):
    colour = {"sig": "#d9f2d9", "eq": "#dde8f8", "und": "#fff4d6"}[css_class]
    return f'<span style="background:{colour}">{word}</span>'


def vs_legend(rep, vs, level):
    alpha, margins = rep["alpha"], rep.get("margins") or {}
    c = verdict_counts(rep)
    return [
        f"<b>Δ</b>: group mean minus the mean of the group with <code>{esc(vs)}</code> and the other keys equal; "
        f"[lo, hi]: its {level} interval over seeds and images (not adjusted for the table); p: two-sided, "
        f"Holm-adjusted over the table's {rep['family']} tested Δ cells. <b>ref</b>: the reference group; "
        f"<b>n/a</b>: no group with {esc(vs)} and the same other keys.",
        f"<b>*</b> {swatch('sig', 'significant')}: adjusted p &lt; {alpha:g}, a difference beyond seed and image "
        "noise.",
        equivalent_legend(alpha, margins),
        undecided_legend(alpha, margins, rep["family"]),
        "<b>no test</b>: an arm has one run, so no seed variance (<code>fcnlab report --pooled-seed-variance</code> "
        "pools it over the configurations).",
        f"Verdicts: {c['sig']} significant, {c['eq']} equivalent, {c['und']} undecided, {c['none']} without a test.",
    ]


def equivalent_legend(alpha, margins):
    if not margins:
        return "<b>≈</b> equivalent: needs a margin (<code>--margin</code>); none was given, so no cell is ≈."
    margin_text = ", ".join(f"{esc(m)} {v:g}" for m, v in margins.items())
    return (f"<b>≈</b> {swatch('eq', 'equivalent')}: two one-sided tests show |Δ| &lt; the margin ({margin_text}), "
            f"Holm-adjusted over the cells with a margin, at {alpha:g}. A cell can be both * and ≈: a real "
            "difference too small to matter.")


def undecided_legend(alpha, margins, family):
    which = "neither * nor ≈" if margins else "no *"
    size = "a difference of the margin" if margins else "the observed Δ"
    return (f"{swatch('und', 'Undecided')} ({which}): <b>N seeds</b> per arm would give 80% power at "
            f"{alpha:g} / {max(1, family)} (Holm's first step) for {size}, from the observed variances; "
            "<b>—</b>: no number of seeds would (image sampling alone is too wide, or Δ is 0).")


def report_section(rep, note, cmd):
    shown = " ".join(esc(a) for a in ["fcnlab", *cmd[1:]])
    out = [f'<h2 id="report-section">Report</h2>\n<p>From <code>{shown}</code>.</p>']
    if rep is None:
        return out[0] + f'\n<p class="note" id="report-note"><b>No report table</b>: {esc(note)}</p>'
    out.append(report_table(rep))
    out.append(legend(rep))
    out += [f'<p class="warn">warning: {esc(w)}</p>' for w in rep.get("warnings", [])]
    return "\n".join(out)


# --- plots and the run list ---------------------------------------------------------------------

def plots_section(pngs):
    out = ['<h2 id="plots-section">Plots</h2>']
    for name in pngs:
        heading = "Examples" if name == "examples.png" else name
        out.append(f'<h3>{esc(heading)}</h3>\n<img src="{esc(urllib.parse.quote(name))}" alt="{esc(name)}">')
    return "\n".join(out)


def copy_log(directory, out, entry):
    """Copies .work/<run_id>/'s log into out/logs/<run_id>.log; returns that relative name or None.

    <run_id> is the run file's name without .h5 (a run's file and work dir share it)."""
    work = os.path.join(directory, ".work", entry["stem"])
    for name in LOG_NAMES:
        src = os.path.join(work, name)
        if os.path.isfile(src):
            rel = "logs/" + entry["stem"] + ".log"
            shutil.copyfile(src, os.path.join(out, rel))
            return rel
    return None


def remove_stale_logs(out, stems):
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    for name in os.listdir(logs):
        if name.endswith(".log") and name[:-4] not in stems:
            os.remove(os.path.join(logs, name))


def wall_text(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "-"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{seconds:.1f}s")


def run_row(entry, keys, log):
    status = entry["status"] + (f": {entry['message']}" if entry.get("message") else "")
    cls = "" if entry["status"] == "finished" else ' class="bad"'
    link = f'<a href="{esc(urllib.parse.quote(log))}">log</a>' if log else "no log"
    cells = [f"<td>{esc(entry['run_id'])}</td>"]
    cells += [f"<td>{esc(entry['config'].get(k, '—'))}</td>" for k in keys]
    seed = "-" if entry.get("seed") is None else entry["seed"]
    cells += [f'<td class="num">{esc(seed)}</td>', f"<td{cls}>{esc(status)}</td>",
              f'<td class="num">{esc(wall_text(entry.get("wall_seconds")))}</td>', f"<td>{link}</td>"]
    return "<tr>" + "".join(cells) + "</tr>"


def runs_section(entries, keys, directory, out):
    remove_stale_logs(out, {e["stem"] for e in entries})
    head = ["run id", *keys, "seed", "status", "wall time", "log"]
    rows = ["<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    rows += [run_row(e, keys, copy_log(directory, out, e)) for e in entries]
    counts = ", ".join(f"{n} {esc(s)}" for s, n in sorted(collections.Counter(e["status"] for e in entries).items()))
    intro = (f"<p>{len(entries)} run files (<code>*.h5</code>): {counts}. Columns: the config keys whose values "
             "differ between runs. Logs are copies of each run's <code>.work/&lt;run_id&gt;/stdout.log</code> "
             "(or <code>train.log</code>).</p>")
    table = '<div class="wide"><table id="runs">\n' + "\n".join(rows) + "\n</table></div>"
    return f'<h2 id="runs-section">Runs</h2>\n{intro}\n{table}'


def write_page(out, title, sections):
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{NAV}\n" + "\n".join(sections) + "\n</body>\n</html>\n")
    path = os.path.join(out, "index.html")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
