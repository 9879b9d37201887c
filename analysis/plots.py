#!/usr/bin/python3
"""Plots of an fcnlab results directory (`make plots DIR=results/<experiment>`).

Reads every finished run file DIR/*.h5 (HDF5 schema of ../shared/DESIGN.md; unreadable,
unfinished, diverged or failed files are skipped with a warning), groups runs by config keys the
same way `fcnlab report` does (default: every key that varies, except run.seed and the keys left
out of the config hash) and writes PNG files into DIR/plots/ (or --out):

  trimap.png           trimap pixel accuracy and mean IoU vs band width, one line per group
                       (mean over seeds, shaded: min..max over seeds)
  learning_curves.png  train loss (smoothed) and val mean IoU vs iteration, one line per group
  bar_<metric>.png     the main metric per group: mean over seeds with std error bars, seeds as dots
  examples.png         example val images: image, ground truth, each group's prediction (first
                       seed), VOC palette (void = 255 drawn in the VOC boundary colour)
  index.html           one self-contained page (experiment_page.py): the `fcnlab report --ci` table
                       with its verdict legend (--vs, --margin, --alpha, --report-metrics and --by
                       are passed to the report), these plots, and the run list with each run's
                       log copied to logs/<run_id>.log

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib (run with /usr/bin/python3).
"""
import argparse
import math
import os
import sys
import tomllib

import experiment_page as page
import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SCHEMA_VERSIONS = {1, 2, 3, 4}  # 2: BF and Boundary IoU ignore void; 3: per-image boundary data; 4: image ids (run_file.h)
# Keys that do not change results (config/loader.cpp unhashed_keys()) and the seed: never axes.
NOT_AXES = {"run.seed", "checkpoint.every", "checkpoint.keep", "data.workers", "run.experiment",
            "run.log_level", "run.log_every", "run.name", "run.results_dir", "run.threads",
            "optim.fuse_conv_relu"}


def warn(msg):
    print(f"plots.py: warning: {msg}", file=sys.stderr)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def flatten(table, prefix=""):
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def show_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(show_value(x) for x in v) + "]"
    return str(v)


def natural_key(values):
    key = []
    for v in values:
        try:
            key.append((0, float(v), ""))
        except ValueError:
            key.append((1, 0.0, v))
    return key


def voc_palette():
    """The PASCAL VOC colour map (bit-interleaved class index), 256 x 3 uint8."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    pal[255] = (224, 224, 192)
    return pal


def read_info(f):
    """The root attributes of an open run file of any status (DESIGN.md "Results")."""
    version = int(f.attrs["schema_version"])
    if version not in SCHEMA_VERSIONS:
        raise ValueError(f"schema_version {version}; this script reads {sorted(SCHEMA_VERSIONS)}")
    return {"run_id": text(f.attrs["run_id"]), "status": text(f.attrs["status"]), "seed": int(f.attrs["seed"]),
            "wall_seconds": float(f.attrs["wall_seconds"]), "message": text(f.attrs.get("message", "")),
            "config": {k: show_value(v) for k, v in flatten(tomllib.loads(text(f.attrs["config_toml"]))).items()}}


class Run:
    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            info = read_info(f)
            self.status = info["status"]
            if self.status != "finished":
                raise ValueError(f"status is '{self.status}', not finished")
            if "final" not in f:
                raise ValueError("no /final group")
            self.run_id, self.seed, self.config = info["run_id"], info["seed"], info["config"]
            fin = f["final"]
            self.scalars = {k: float(v) for k, v in fin.attrs.items()}
            b = fin["boundary"]
            self.trimap_width = np.asarray(b["trimap_width"][:])
            self.trimap_acc = np.asarray(b["trimap_pixel_acc"][:])
            self.trimap_miou = np.asarray(b["trimap_mean_iou"][:])
            self.train = {k: np.asarray(f["train"][k][:]) for k in ("step", "loss")} if "train" in f else None
            self.val = {k: np.asarray(f["val"][k][:]) for k in ("step", "mean_iou")} if "val" in f else None
            if "examples" in f and f["examples/image"].shape[0] > 0:
                e = f["examples"]
                self.examples = {k: np.asarray(e[k][:]) for k in ("image", "label", "pred")}
                self.examples["ids"] = [text(x) for x in e["ids"][:]]
            else:
                self.examples = None


def load_runs(directory):
    runs = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".h5"):
            continue
        path = os.path.join(directory, name)
        try:
            runs.append(Run(path))
        except Exception as e:  # unreadable or unusable: skip, say why
            warn(f"skipping {path}: {e}")
    return runs


def list_run_files(directory):
    """Every DIR/*.h5, finished or not, for the page's run list: read_info() plus the file's stem;
    an unreadable file gets status 'unreadable' and the error as its message."""
    entries = []
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".h5")):
        entry = {"stem": name[:-3], "run_id": name[:-3], "status": "unreadable", "seed": None,
                 "wall_seconds": None, "message": "", "config": {}}
        try:
            with h5py.File(os.path.join(directory, name), "r") as f:
                entry.update(read_info(f))
        except Exception as e:  # the page lists it, saying why it could not be read
            entry["message"] = str(e)
        entries.append(entry)
    return entries


def varying_keys(configs):
    keys = sorted(set().union(*(c.keys() for c in configs)))
    return [k for k in keys if k not in NOT_AXES and len({c.get(k) for c in configs}) > 1]


def group_runs(runs, by):
    groups = {}
    for r in runs:
        groups.setdefault(tuple(r.config.get(k, "?") for k in by), []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: natural_key(kv[0]))
    return [(values, sorted(rs, key=lambda r: r.seed)) for values, rs in ordered]


def label(by, values, sep=", "):
    """A group's name from its grouping values; sep="\n" puts one key per line (narrow panels)."""
    if not by:
        return "all runs"
    parts = []
    for k, v in zip(by, values):
        short = k.split(".")[-1]
        parts.append(f"FCN-{v}s" if k == "model.skip" else f"{short}={v}")
    return sep.join(parts)


def colors(n):
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def plot_trimap(groups, by, out):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (values, runs), color in zip(groups, colors(len(groups))):
        widths = runs[0].trimap_width
        same = [r for r in runs if np.array_equal(r.trimap_width, widths)]
        for ax, attr in zip(axes, ("trimap_acc", "trimap_miou")):
            ys = np.stack([getattr(r, attr) for r in same])
            ax.plot(widths, ys.mean(0), marker="o", color=color, label=f"{label(by, values)} (n={len(same)})")
            if len(same) > 1:
                ax.fill_between(widths, ys.min(0), ys.max(0), color=color, alpha=0.15)
    for ax, title in zip(axes, ("trimap pixel accuracy", "trimap mean IoU")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("band width around ground-truth boundaries (px)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0].set_ylabel("score (mean over seeds; band: min..max)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def smooth(y, window):
    if len(y) < 3 or window <= 1:
        return y
    window = min(window, len(y))
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, y[0]), y])
    return np.convolve(padded, kernel, mode="valid")


def mean_curve(curves):
    """Mean over seeds of (step, value) curves, on the steps all of them share."""
    steps = curves[0][0]
    for s, _ in curves[1:]:
        steps = np.intersect1d(steps, s)
    ys = [v[np.searchsorted(s, steps)] for s, v in curves]
    return steps, np.mean(ys, axis=0)


def plot_learning_curves(groups, by, out):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (values, runs), color in zip(groups, colors(len(groups))):
        lab = f"{label(by, values)} (n={len(runs)})"
        tr = [(r.train["step"], r.train["loss"]) for r in runs if r.train is not None and len(r.train["step"])]
        if tr:
            s, v = mean_curve(tr)
            axes[0].plot(s, smooth(v, max(1, len(v) // 50)), color=color, label=lab)
        va = [(r.val["step"], r.val["mean_iou"]) for r in runs if r.val is not None and len(r.val["step"])]
        if va:
            s, v = mean_curve(va)
            axes[1].plot(s, v, marker="o", color=color, label=lab)
    axes[0].set_title("train loss (mean over seeds, smoothed)")
    axes[0].set_yscale("log")
    axes[1].set_title("val mean IoU (mean over seeds)")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_bars(groups, by, metric, out):
    names = [label(by, v) for v, _ in groups]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(groups) + 2), 4.2))
    for i, ((values, runs), color) in enumerate(zip(groups, colors(len(groups)))):
        ys = np.array([r.scalars.get(metric, math.nan) for r in runs])
        ys = ys[np.isfinite(ys)]
        if not len(ys):
            continue
        std = ys.std(ddof=1) if len(ys) > 1 else 0.0
        ax.bar(i, ys.mean(), yerr=std, color=color, alpha=0.8, capsize=5)
        ax.scatter(np.full(len(ys), i) + np.linspace(-0.15, 0.15, len(ys)), ys, color="k", s=12, zorder=3)
        ax.annotate(f"{ys.mean():.3f}", (i, ys.mean() + std), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(names, rotation=20 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center",
                       fontsize=8)
    ax.set_ylabel(f"{metric} (mean ± std over seeds; dots: seeds)")
    ax.set_title(metric)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_examples(groups, by, out, max_examples):
    pal = voc_palette()
    firsts = [(values, next((r for r in runs if r.examples is not None), None)) for values, runs in groups]
    firsts = [(v, r) for v, r in firsts if r is not None]
    if not firsts:
        warn("no run has /examples: examples.png not written")
        return False
    ref = firsts[0][1].examples
    ids = ref["ids"][:max_examples]
    cols = 2 + len(firsts)
    fig, axes = plt.subplots(len(ids), cols, figsize=(2.1 * cols, 2.2 * len(ids)), squeeze=False)
    for row, ex_id in enumerate(ids):
        panels = [("image", ref["image"][row]), ("ground truth", pal[ref["label"][row]])]
        for values, r in firsts:
            e = r.examples
            if ex_id in e["ids"]:
                panels.append((label(by, values, "\n"), pal[e["pred"][e["ids"].index(ex_id)]]))
            else:
                panels.append((label(by, values, "\n") + "\n(not recorded)", np.full_like(ref["image"][row], 255)))
        for col, (title, img) in enumerate(panels):
            ax = axes[row][col]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
        axes[row][0].set_ylabel(ex_id, fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="results directory with <run_id>.h5 files")
    p.add_argument("--by", default="", help="group by these config keys, comma-separated (default: keys that vary)")
    p.add_argument("--metric", default="mean_iou", help="metric of the bar chart (a /final scalar; default mean_iou)")
    p.add_argument("--out", default="", help="output directory (default DIR/plots)")
    p.add_argument("--examples", type=int, default=4, help="rows of the example grid (default 4)")
    p.add_argument("--vs", default="", help="key=value: the page's report gets Δ columns and verdicts (report --vs)")
    p.add_argument("--margin", default="", help="X or metric=X,...: equivalence margins of the page's report")
    p.add_argument("--alpha", default="", help="level of the page's verdicts (report --alpha; default 0.05)")
    p.add_argument("--report-metrics", default="", help="metrics of the page's report (report --metrics)")
    p.add_argument("--fcnlab", default="", help="fcnlab executable for the page's report "
                   "(default $FCNLAB, else build/src/cli/fcnlab of this repository)")
    a = p.parse_args(argv)
    if not os.path.isdir(a.dir):
        print(f"plots.py: error: {a.dir}: not a directory", file=sys.stderr)
        return 1
    runs = load_runs(a.dir)
    if not runs:
        print(f"plots.py: error: {a.dir}: no finished run files (*.h5)", file=sys.stderr)
        return 1
    by = [k.strip() for k in a.by.split(",") if k.strip()] if a.by else varying_keys([r.config for r in runs])
    unknown = [k for k in by if all(k not in r.config for r in runs)]
    if unknown:
        print(f"plots.py: error: --by {','.join(unknown)}: not a config key of these runs", file=sys.stderr)
        return 2
    groups = group_runs(runs, by)
    out = a.out or os.path.join(a.dir, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    plot_trimap(groups, by, os.path.join(out, "trimap.png"))
    written.append("trimap.png")
    plot_learning_curves(groups, by, os.path.join(out, "learning_curves.png"))
    written.append("learning_curves.png")
    if not any(a.metric in r.scalars for r in runs):
        warn(f"metric '{a.metric}' is in no run file: bar chart not written")
    else:
        name = f"bar_{a.metric}.png"
        plot_bars(groups, by, a.metric, os.path.join(out, name))
        written.append(name)
    if plot_examples(groups, by, os.path.join(out, "examples.png"), a.examples):
        written.append("examples.png")
    written.append(write_page(a, out, written))
    print(f"{len(runs)} runs in {len(groups)} groups (by {', '.join(by) or 'nothing'}) -> "
          f"{', '.join(os.path.join(out, w) for w in written)}")
    return 0


def write_page(a, out, pngs):
    """DIR/plots/index.html (analysis/experiment_page.py); returns its name."""
    options = {"--by": a.by, "--metrics": a.report_metrics, "--vs": a.vs, "--margin": a.margin, "--alpha": a.alpha}
    cmd = page.report_command(page.find_fcnlab(a.fcnlab), a.dir, options)
    report, note = page.run_report(cmd)
    if report is None:
        warn(f"index.html shows no report table: {note}")
    entries = list_run_files(a.dir)
    keys = varying_keys([e["config"] for e in entries if e["config"]])
    sections = [page.report_section(report, note, cmd), page.plots_section(pngs),
                page.runs_section(entries, keys, a.dir, out)]
    page.write_page(out, f"fcnlab experiment {os.path.basename(os.path.normpath(a.dir))}", sections)
    return "index.html"


if __name__ == "__main__":
    sys.exit(main())
