// Rendering a Report as Markdown, CSV, LaTeX (booktabs) or JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/text.h"
#include "report/report.h"

namespace fcnlab::report {

namespace {

struct TextTable {
  std::vector<std::string> header;
  std::vector<bool> numeric;  // right-aligned columns
  std::vector<std::vector<std::string>> rows;
};

// --- numbers ---------------------------------------------------------------------------------

std::string num(double v, bool paper) {
  if (!std::isfinite(v)) return "-";
  return paper ? fmt::format("{:.1f}", 100 * v) : fmt::format("{:.4f}", v);
}
std::string signed_num(double v, bool paper) {
  if (!std::isfinite(v)) return "-";
  return paper ? fmt::format("{:+.1f}", 100 * v) : fmt::format("{:+.4f}", v);
}
// CSV's and JSON's spelling of a bool.
std::string bool_text(bool b) {
  return b ? "true" : "false";
}
// Full precision for CSV/JSON; "" / null for NaN.
std::string raw(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : std::string();
}
std::string json_num(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : std::string("null");
}

std::string metric_label(const std::string& m, bool paper) {
  if (paper) {
    if (m == "pixel_acc") return "pixel acc.";
    if (m == "mean_acc") return "mean acc.";
    if (m == "mean_iou") return "mean IU";
    if (m == "fw_iou") return "f.w. IU";
  }
  return m;
}

std::string key_label(const std::string& key, bool paper) {
  return paper && key == "model.skip" ? "net" : key;
}
std::string value_label(const std::string& key, const std::string& v, bool paper) {
  return paper && key == "model.skip" ? fmt::format("FCN-{}s", v) : v;
}

std::string metric_cell(const MetricCell& c, bool paper, const std::string& pm) {
  std::string s = num(c.stat.mean, paper);
  if (std::isfinite(c.stat.std)) s += fmt::format(" {} {}", pm, num(c.stat.std, paper));
  if (c.ci) s += fmt::format(" [{}, {}]", num(c.ci->lo, paper), num(c.ci->hi, paper));
  return s;
}

// Markup that differs between Markdown and LaTeX cells.
struct Marks {
  std::string pm, approx, dash, less;
};
const Marks kMdMarks{"±", "≈", "—", "<"};
const Marks kTexMarks{"$\\pm$", "$\\approx$", "---", "$<$"};

std::string p_text(double p, const Marks& marks) {
  if (!std::isfinite(p)) return "-";
  return p < 0.001 ? "p" + marks.less + "0.001" : fmt::format("p={:.2g}", p);
}

std::string diff_cell(const Row& row, std::size_t k, bool paper, const Marks& marks) {
  if (!row.has_reference) return "n/a";
  if (row.is_reference) return "ref";
  const auto& d = row.diffs[k];
  std::string s = signed_num(d.diff, paper);
  if (!d.tested()) return s + fmt::format(" (no test: {})", d.no_test);
  if (d.ci) s += fmt::format(" [{}, {}]", signed_num(d.ci->lo, paper), signed_num(d.ci->hi, paper));
  s += " " + p_text(d.p_adjusted, marks);
  if (d.significant) s += "*";
  if (d.equivalent.value_or(false)) s += marks.approx;
  if (d.undecided()) s += d.seeds_needed ? fmt::format(", {} seeds", *d.seeds_needed) : ", " + marks.dash;
  return s;
}

std::string vs_label(const Report& r) {
  return fmt::format("{}={}", r.vs_key, r.vs_value);
}

std::string n_cell(const Row& row) {
  return row.pooled_keys.empty() ? std::to_string(row.seeds.size()) : fmt::format("{} pooled", row.seeds.size());
}

TextTable main_table(const Report& r, const Marks& marks) {
  TextTable t;
  for (const auto& k : r.by) {
    t.header.push_back(key_label(k, r.paper));
    t.numeric.push_back(false);
  }
  if (r.by.empty()) {
    t.header.push_back("runs");
    t.numeric.push_back(false);
  }
  t.header.push_back("n");
  t.numeric.push_back(true);
  for (const auto& m : r.metrics) {
    t.header.push_back(metric_label(m, r.paper));
    t.numeric.push_back(true);
  }
  const bool vs = !r.vs_key.empty();
  if (vs)
    for (const auto& m : r.metrics) {
      t.header.push_back(fmt::format("Δ {} vs {}", metric_label(m, r.paper), vs_label(r)));
      t.numeric.push_back(true);
    }
  for (const auto& row : r.rows) {
    std::vector<std::string> cells;
    for (std::size_t a = 0; a < r.by.size(); ++a) cells.push_back(value_label(r.by[a], row.values[a], r.paper));
    if (r.by.empty()) cells.push_back("all");
    cells.push_back(n_cell(row));
    for (const auto& c : row.metrics) cells.push_back(metric_cell(c, r.paper, marks.pm));
    if (vs)
      for (std::size_t k = 0; k < r.metrics.size(); ++k) cells.push_back(diff_cell(row, k, r.paper, marks));
    t.rows.push_back(std::move(cells));
  }
  return t;
}

TextTable marginal_table(const Report& r, const Marginal& m) {
  TextTable t;
  t.header = {key_label(m.key, r.paper), "groups"};
  t.numeric = {false, true};
  for (const auto& name : r.metrics) {
    t.header.push_back(fmt::format("{} (effect)", metric_label(name, r.paper)));
    t.numeric.push_back(true);
  }
  for (const auto& row : m.rows) {
    std::vector<std::string> cells{value_label(m.key, row.value, r.paper), std::to_string(row.groups)};
    for (std::size_t k = 0; k < row.mean.size(); ++k)
      cells.push_back(fmt::format("{} ({})", num(row.mean[k], r.paper), signed_num(row.effect[k], r.paper)));
    t.rows.push_back(std::move(cells));
  }
  return t;
}

bool any_pooled(const Report& r) {
  return std::any_of(r.rows.begin(), r.rows.end(), [](const Row& row) { return !row.pooled_keys.empty(); });
}

// Counts of the Δ cells' verdicts.
struct Verdicts {
  int significant = 0, equivalent = 0, undecided = 0, untested = 0;
};
Verdicts count_verdicts(const Report& r) {
  Verdicts v;
  for (const auto& row : r.rows)
    for (const auto& d : row.diffs) {  // reference rows have none
      if (!d.tested()) ++v.untested;
      if (d.significant) ++v.significant;
      if (d.equivalent.value_or(false)) ++v.equivalent;
      if (d.undecided()) ++v.undecided;
    }
  return v;
}

std::string margins_text(const Report& r) {
  std::vector<std::string> parts;
  for (const auto& m : r.metrics)
    if (const auto x = r.margins.of(m)) parts.push_back(fmt::format("{} {:g}", m, *x));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::vector<std::string> notes(const Report& r, const Marks& marks) {
  std::vector<std::string> out;
  const double pct = 100 * r.level();
  out.push_back(fmt::format("Cells: mean {} std over the group's n seeds{}.", marks.pm, r.paper ? ", in percent" : ""));
  if (!r.where.empty()) out.push_back(fmt::format("Runs selected by: {}.", fmt::join(r.where, "; ")));
  if (any_pooled(r))
    out.push_back(
        "pooled: the row averages runs of different configurations (--pool); its std and interval are over "
        "those runs, not over seeds of one configuration.");
  const std::string seed_part =
      r.pooled_seed_variance ? "s_p²/n (s_p²: the pooled within-configuration variance)" : "s²/n (s²: between seeds)";
  if (r.ci)
    out.push_back(fmt::format(
        "[lo, hi]: {:g}% t interval of the group mean over seeds and images, se² = {} + v_img (v_img: variance of the "
        "mean over {} bootstrap resamples of the val images, runs held fixed), Welch–Satterthwaite df; for {}{}.",
        pct, seed_part, r.resamples,
        r.resampled.empty() ? "no metric" : fmt::format("{}", fmt::join(r.resampled, ", ")),
        r.pooled_seed_variance ? "" : "; none for a group of one run"));
  if (r.pooled_seed_variance)
    for (std::size_t k = 0; k < r.metrics.size() && k < r.pooled.size(); ++k)
      out.push_back(fmt::format("Pooled seed std of {}: {} ({:g} df).", r.metrics[k],
                                num(std::sqrt(r.pooled[k].variance), r.paper), r.pooled[k].df));
  if (!r.marginals.empty())
    out.push_back(
        "Marginal: for each value, the mean over the combinations of the other keys that were run with "
        "every value of this key (groups); effect: minus the mean over the values.");
  if (r.vs_key.empty()) return out;
  const auto v = count_verdicts(r);
  out.push_back(fmt::format(
      "Δ: group mean minus the mean of the group with {} and the other keys equal; [lo, hi]: {:g}% t interval over "
      "seeds and images, se² = s_A²/n_A + s_B²/n_B + v_img (v_img: variance of Δ over paired bootstrap resamples of "
      "the val images, runs held fixed), Welch–Satterthwaite df; p: two-sided, Holm-adjusted over the table's {} "
      "tested Δ cells (the interval is not adjusted).",
      vs_label(r), pct, r.family));
  out.push_back(fmt::format("*: adjusted p < {:g}, a difference beyond seed and image noise.", r.alpha));
  if (!r.margins.empty())
    out.push_back(
        fmt::format("{}: two one-sided tests show |Δ| < the margin ({}), Holm-adjusted over {} cells, at {:g}.",
                    marks.approx, margins_text(r), r.equivalence_family, r.alpha));
  if (v.undecided > 0)
    out.push_back(fmt::format(
        "Undecided ({}): the seeds per arm that would give 80% power at {:g} / {} (Holm's first step) for {}, "
        "from the observed variances; {}: no number of seeds would (image sampling alone is too wide, or Δ is 0).",
        r.margins.empty() ? "no *" : "neither * nor " + marks.approx, r.alpha, std::max(1, r.family),
        r.margins.empty() ? "the observed Δ" : "a difference of the margin", marks.dash));
  out.push_back(fmt::format(
      "Verdicts: {} significant, {} equivalent, {} undecided, {} without a test{}.", v.significant, v.equivalent,
      v.undecided, v.untested,
      v.untested ? " (1 run: an arm has one run, so no seed variance; --pooled-seed-variance uses the pooled "
                   "within-configuration variance)"
                 : ""));
  return out;
}

// --- Markdown ----------------------------------------------------------------------------------

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string render_md_table(const TextTable& t) {
  std::string out = "|";
  for (const auto& h : t.header) out += " " + md_escape(h) + " |";
  out += "\n|";
  for (const bool n : t.numeric) out += n ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& c : row) out += " " + md_escape(c) + " |";
    out += "\n";
  }
  return out;
}

std::string render_md(const Report& r) {
  std::string out;
  if (!r.title.empty()) out += fmt::format("### {}\n\n", r.title);
  out += render_md_table(main_table(r, kMdMarks));
  for (const auto& m : r.marginals)
    out += fmt::format("\nMarginal means by {} ({} of {} combinations of the other keys have every value):\n\n", m.key,
                       m.contexts, m.all_contexts) +
           render_md_table(marginal_table(r, m));
  out += "\n";
  for (const auto& n : notes(r, kMdMarks)) out += n + "\n";
  return out;
}

// --- LaTeX -------------------------------------------------------------------------------------

std::string tex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '_':
      case '%':
      case '&':
      case '#':
      case '$':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      case '\\':
        out += "\\textbackslash{}";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_latex_table(const TextTable& t, bool cells_are_tex) {
  std::string spec;
  for (const bool n : t.numeric) spec += n ? 'r' : 'l';
  std::string out = fmt::format("\\begin{{tabular}}{{{}}}\n\\toprule\n", spec);
  const auto line = [&](const std::vector<std::string>& cells, bool tex) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) s += " & ";
      std::string c = tex ? cells[i] : tex_escape(cells[i]);
      // Δ is not in LaTeX's default encoding.
      const auto pos = c.find("Δ");
      if (pos != std::string::npos) c.replace(pos, std::string("Δ").size(), "$\\Delta$");
      s += c;
    }
    return s + " \\\\\n";
  };
  out += line(t.header, false) + "\\midrule\n";
  for (const auto& row : t.rows) out += line(row, cells_are_tex);
  return out + "\\bottomrule\n\\end{tabular}\n";
}

std::string render_latex(const Report& r) {
  std::string out = "% fcnlab report";
  if (!r.title.empty()) out += " " + r.title;
  out += "\n% needs \\usepackage{booktabs}\n";
  for (const auto& n : notes(r, kTexMarks)) out += "% " + n + "\n";
  TextTable t = main_table(r, kTexMarks);
  for (auto& row : t.rows)  // escape the text columns only; numeric cells carry $\pm$
    for (std::size_t i = 0; i < row.size(); ++i)
      if (!t.numeric[i]) row[i] = tex_escape(row[i]);
  out += render_latex_table(t, true);
  for (const auto& m : r.marginals) {
    TextTable mt = marginal_table(r, m);
    for (auto& row : mt.rows) row[0] = tex_escape(row[0]);
    out += fmt::format("% marginal means by {}\n", m.key) + render_latex_table(mt, true);
  }
  return out;
}

// --- CSV ---------------------------------------------------------------------------------------

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string s;
  for (std::size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + csv_field(cells[i]);
  return s + "\n";
}

// The Δ columns of one metric: diff, interval, p, adjusted p, the two verdicts, seeds needed.
const std::vector<std::string> kCsvDiffColumns{"diff",       "diff_lo",     "diff_hi",    "p",
                                               "p_adjusted", "significant", "equivalent", "seeds_needed"};

std::vector<std::string> csv_diff_cells(const Row& row, std::size_t k) {
  if (!row.has_reference || row.is_reference) {
    std::vector<std::string> cells(kCsvDiffColumns.size());
    if (row.has_reference) cells[0] = "0";
    return cells;
  }
  const auto& d = row.diffs[k];
  return {raw(d.diff),
          d.ci ? raw(d.ci->lo) : "",
          d.ci ? raw(d.ci->hi) : "",
          raw(d.p),
          raw(d.p_adjusted),
          d.tested() ? bool_text(d.significant) : "",
          d.equivalent ? bool_text(*d.equivalent) : "",
          d.seeds_needed ? std::to_string(*d.seeds_needed) : ""};
}

std::string render_csv(const Report& r) {
  const bool vs = !r.vs_key.empty();
  const bool pooled = any_pooled(r);
  std::vector<std::string> header(r.by.begin(), r.by.end());
  header.push_back("n");
  if (pooled) header.push_back("pooled");
  for (const auto& m : r.metrics) {
    header.push_back(m + "_mean");
    header.push_back(m + "_std");
    if (r.ci) {
      header.push_back(m + "_ci_lo");
      header.push_back(m + "_ci_hi");
    }
    if (vs)
      for (const auto& c : kCsvDiffColumns) header.push_back(m + "_" + c);
  }
  std::string out = csv_line(header);
  for (const auto& row : r.rows) {
    std::vector<std::string> cells(row.values.begin(), row.values.end());
    cells.push_back(std::to_string(row.seeds.size()));
    if (pooled) cells.push_back(fmt::format("{}", fmt::join(row.pooled_keys, " ")));
    for (std::size_t k = 0; k < r.metrics.size(); ++k) {
      const auto& c = row.metrics[k];
      cells.push_back(raw(c.stat.mean));
      cells.push_back(raw(c.stat.std));
      if (r.ci) {
        cells.push_back(c.ci ? raw(c.ci->lo) : "");
        cells.push_back(c.ci ? raw(c.ci->hi) : "");
      }
      if (vs) {
        const auto diff = csv_diff_cells(row, k);
        cells.insert(cells.end(), diff.begin(), diff.end());
      }
    }
    out += csv_line(cells);
  }
  for (const auto& m : r.marginals) {
    std::vector<std::string> h{"marginal:" + m.key, "groups"};
    for (const auto& name : r.metrics) {
      h.push_back(name + "_mean");
      h.push_back(name + "_effect");
    }
    out += "\n" + csv_line(h);
    for (const auto& row : m.rows) {
      std::vector<std::string> cells{row.value, std::to_string(row.groups)};
      for (std::size_t k = 0; k < row.mean.size(); ++k) {
        cells.push_back(raw(row.mean[k]));
        cells.push_back(raw(row.effect[k]));
      }
      out += csv_line(cells);
    }
  }
  return out;
}

// --- JSON --------------------------------------------------------------------------------------

template <class T, class F>
std::string json_list(const std::vector<T>& v, F&& f) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + f(v[i]);
  return out + "]";
}

std::string json_interval(const std::optional<Interval>& ci) {
  return ci ? fmt::format("[{}, {}]", json_num(ci->lo), json_num(ci->hi)) : "null";
}

std::string json_values(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t a = 0; a < keys.size(); ++a)
    out += (a ? ", " : "") + quoted_string(keys[a]) + ": " + quoted_string(values[a]);
  return out + "}";
}

std::string json_diff(const DiffCell& d) {
  return fmt::format(
      "{{\"diff\": {}, \"ci\": {}, \"se\": {}, \"df\": {}, \"p\": {}, \"p_adjusted\": {}, \"significant\": {}, "
      "\"p_equivalence\": {}, \"p_equivalence_adjusted\": {}, \"equivalent\": {}, \"seeds_needed\": {}, "
      "\"no_test\": {}}}",
      json_num(d.diff), json_interval(d.ci), json_num(d.tested() ? d.estimate.se : kNoValue),
      json_num(d.tested() ? d.estimate.df : kNoValue), json_num(d.p), json_num(d.p_adjusted), bool_text(d.significant),
      json_num(d.p_equivalence), json_num(d.p_equivalence_adjusted), d.equivalent ? bool_text(*d.equivalent) : "null",
      d.seeds_needed ? std::to_string(*d.seeds_needed) : "null", d.tested() ? "null" : quoted_string(d.no_test));
}

std::string render_json(const Report& r) {
  const auto str = [](const std::string& s) { return quoted_string(s); };
  std::string out = "{\n";
  out += fmt::format("  \"title\": {},\n  \"by\": {},\n  \"metrics\": {},\n", quoted_string(r.title),
                     json_list(r.by, str), json_list(r.metrics, str));
  out += fmt::format("  \"bootstrap\": {},\n", r.resamples > 0 ? fmt::format("{{\"resamples\": {}, \"metrics\": {}}}",
                                                                             r.resamples, json_list(r.resampled, str))
                                                               : "null");
  std::string margins = "{";
  for (const auto& m : r.metrics)
    if (const auto x = r.margins.of(m)) margins += fmt::format("{}{}: {}", margins.size() > 1 ? ", " : "", str(m), *x);
  margins += "}";
  std::string pooled = "null";
  if (r.pooled_seed_variance) {
    pooled = "{";
    for (std::size_t k = 0; k < r.metrics.size() && k < r.pooled.size(); ++k)
      pooled += fmt::format("{}{}: {{\"variance\": {}, \"df\": {}}}", k ? ", " : "", str(r.metrics[k]),
                            json_num(r.pooled[k].variance), r.pooled[k].df);
    pooled += "}";
  }
  out += fmt::format(
      "  \"level\": {},\n  \"alpha\": {},\n  \"margins\": {},\n  \"family\": {},\n  \"where\": {},\n  "
      "\"pooled_seed_variance\": {},\n",
      r.level(), r.alpha, margins, r.family, json_list(r.where, str), pooled);
  out += fmt::format("  \"vs\": {},\n", r.vs_key.empty()
                                            ? std::string("null")
                                            : fmt::format("{{\"key\": {}, \"value\": {}}}", quoted_string(r.vs_key),
                                                          quoted_string(r.vs_value)));
  out += "  \"groups\": [";
  for (std::size_t g = 0; g < r.rows.size(); ++g) {
    const auto& row = r.rows[g];
    out += g ? ",\n    {" : "\n    {";
    out += fmt::format(
        "\"values\": {}, \"n\": {}, \"seeds\": {}, \"run_ids\": {}, \"pooled\": {}, \"pooled_keys\": {}, "
        "\"metrics\": {{",
        json_values(r.by, row.values), row.seeds.size(),
        json_list(row.seeds, [](std::int64_t s) { return std::to_string(s); }), json_list(row.run_ids, str),
        bool_text(!row.pooled_keys.empty()), json_list(row.pooled_keys, str));
    for (std::size_t k = 0; k < r.metrics.size(); ++k) {
      const auto& c = row.metrics[k];
      out += fmt::format("{}{}: {{\"mean\": {}, \"std\": {}, \"n\": {}, \"ci\": {}}}", k ? ", " : "",
                         quoted_string(r.metrics[k]), json_num(c.stat.mean), json_num(c.stat.std), c.stat.n,
                         json_interval(c.ci));
    }
    out += "}";
    if (!r.vs_key.empty()) {
      if (!row.has_reference) {
        out += ", \"diff\": null";
      } else {
        out += fmt::format(", \"diff\": {{\"reference\": {}, \"is_reference\": {}, \"metrics\": {{",
                           json_values(r.by, row.reference), row.is_reference ? "true" : "false");
        for (std::size_t k = 0; k < r.metrics.size(); ++k)
          out += fmt::format("{}{}: {}", k ? ", " : "", quoted_string(r.metrics[k]),
                             row.is_reference ? std::string("null") : json_diff(row.diffs[k]));
        out += "}}";
      }
    }
    out += "}";
  }
  out += r.rows.empty() ? "],\n" : "\n  ],\n";
  out += "  \"marginal\": [";
  for (std::size_t i = 0; i < r.marginals.size(); ++i) {
    const auto& m = r.marginals[i];
    out += fmt::format("{}\n    {{\"key\": {}, \"contexts\": {}, \"all_contexts\": {}, \"rows\": [", i ? "," : "",
                       quoted_string(m.key), m.contexts, m.all_contexts);
    for (std::size_t j = 0; j < m.rows.size(); ++j) {
      const auto& mr = m.rows[j];
      std::string mean = "{", effect = "{";
      for (std::size_t k = 0; k < r.metrics.size(); ++k) {
        mean += fmt::format("{}{}: {}", k ? ", " : "", quoted_string(r.metrics[k]), json_num(mr.mean[k]));
        effect += fmt::format("{}{}: {}", k ? ", " : "", quoted_string(r.metrics[k]), json_num(mr.effect[k]));
      }
      mean += "}";
      effect += "}";
      out += fmt::format("{}{{\"value\": {}, \"groups\": {}, \"mean\": {}, \"effect\": {}}}", j ? ", " : "",
                         quoted_string(mr.value), mr.groups, mean, effect);
    }
    out += "]}";
  }
  out += r.marginals.empty() ? "],\n" : "\n  ],\n";
  out += fmt::format("  \"warnings\": {}\n}}\n", json_list(r.warnings, str));
  return out;
}

}  // namespace

std::string render(const Report& report, Format format) {
  switch (format) {
    case Format::md:
      return render_md(report);
    case Format::csv:
      return render_csv(report);
    case Format::latex:
      return render_latex(report);
    case Format::json:
      return render_json(report);
  }
  return {};
}

}  // namespace fcnlab::report
