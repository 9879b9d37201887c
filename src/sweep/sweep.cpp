#include "sweep/sweep.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "config/loader.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/text.h"
#include "results/run_file.h"

namespace fcnlab {

namespace {

using Values = std::vector<std::string>;  // TOML value texts, e.g. "32", "\"sum\""
// One axis: a dotted key and its values, with where it was given (for errors).
struct Axis {
  std::string key;
  Values values;
};

std::string value_text(const toml::node& n) {
  std::ostringstream out;
  n.visit([&](const auto& v) {
    if constexpr (toml::is_array<decltype(v)> || toml::is_table<decltype(v)>)
      out << toml::toml_formatter(v, toml::format_flags::none);
    else
      out << toml::toml_formatter(toml::table{{"v", v}}, toml::format_flags::none);
  });
  std::string s = out.str();
  if (s.rfind("v = ", 0) == 0) s = s.substr(4);
  return trim(s);
}

// Flattens a table of (possibly nested) tables into dotted keys.
void flatten(const toml::table& t, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (const auto& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table())
      flatten(*sub, key, out);
    else
      out.emplace_back(key, &v);
  }
}

std::string where(const std::string& file, const toml::node& n, const std::string& what) {
  return n.source().begin.line > 0 ? fmt::format("{}:{} ({})", file, n.source().begin.line, what)
                                   : fmt::format("{} ({})", file, what);
}

// Command-line "key=v1,v2" -> axis.
// A key left out of the run id cannot be an axis: its values would all be the same run, and the
// sweep would silently train one of them.
void check_axis(const Axis& a, const std::string& where) {
  if (a.values.size() < 2 || !is_unhashed_key(a.key)) return;
  throw ConfigError(
      fmt::format("{}: {} cannot be a sweep axis: it is left out of the run id (it does not change what "
                  "is computed), so its {} values would all be one run; give it one value",
                  where, a.key, a.values.size()));
}

Axis parse_override_axis(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos) throw ConfigError(fmt::format("override '{}': expected key=value", kv));
  Axis a{trim(kv.substr(0, eq)), {}};
  check_config_key(a.key, fmt::format("override '{}'", kv));
  for (const auto& v : split_values(kv.substr(eq + 1))) a.values.push_back(trim(v));
  check_axis(a, fmt::format("override '{}'", kv));
  return a;
}

// [[grid]] tables: each a list of axes (a key and its values).
std::vector<std::vector<Axis>> parse_grids(const toml::node& v, const std::string& fname) {
  const auto* arr = v.as_array();
  if (!arr || !arr->is_homogeneous(toml::node_type::table))
    throw ConfigError(fmt::format("{}: grid must be [[grid]] tables", where(fname, v, "grid")));
  std::vector<std::vector<Axis>> grids;
  for (std::size_t g = 0; g < arr->size(); ++g) {
    std::vector<std::pair<std::string, const toml::node*>> flat;
    flatten(*arr->get(g)->as_table(), "", flat);
    std::vector<Axis> axes;
    for (const auto& [dk, node] : flat) {
      const std::string w = where(fname, *node, fmt::format("[[grid]] #{}", g + 1));
      check_config_key(dk, w);
      Axis a{dk, {}};
      if (const auto* values = node->as_array()) {
        if (values->empty()) throw ConfigError(fmt::format("{}: {} has no values", w, dk));
        for (const auto& e : *values) a.values.push_back(value_text(e));
      } else {
        a.values.push_back(value_text(*node));
      }
      check_axis(a, w);
      axes.push_back(std::move(a));
    }
    grids.push_back(std::move(axes));
  }
  return grids;
}

// A string or an array of strings.
std::vector<std::string> strings_of(const toml::node& n, const std::string& w, const std::string& field) {
  std::vector<std::string> out;
  if (const auto s = n.value<std::string>()) return {*s};
  const auto* arr = n.as_array();
  if (!arr || !arr->is_homogeneous(toml::node_type::string))
    throw ConfigError(fmt::format("{}: [decide] {} must be a string or an array of strings", w, field));
  for (const auto& e : *arr) out.push_back(*e.value<std::string>());
  return out;
}

double number_of(const toml::node& n, const std::string& w, const std::string& field) {
  const auto x = n.value<double>();  // integers convert
  if (!x) throw ConfigError(fmt::format("{}: [decide] {} must be a number", w, field));
  return *x;
}

int integer_of(const toml::node& n, const std::string& w, const std::string& field, int max = 1000) {
  const auto x = n.value<std::int64_t>();
  if (!x || n.type() != toml::node_type::integer || *x < 0 || *x > max)
    throw ConfigError(fmt::format("{}: [decide] {} must be an integer from 0 to {}", w, field, max));
  return static_cast<int>(*x);
}

bool boolean_of(const toml::node& n, const std::string& w, const std::string& field) {
  const auto x = n.value<bool>();
  if (!x) throw ConfigError(fmt::format("{}: [decide] {} must be true or false", w, field));
  return *x;
}

// margin = 0.01, or margin = { mean_iou = 0.01, bf_score = 0.02 }.
report::Margins margins_of(const toml::node& n, const std::string& w) {
  report::Margins m;
  const auto positive = [&](const toml::node& x, const std::string& field) {
    const double v = number_of(x, w, field);
    if (!(v > 0)) throw ConfigError(fmt::format("{}: [decide] {} must be > 0, not {}", w, field, v));
    return v;
  };
  if (const auto* t = n.as_table()) {
    for (const auto& [metric, x] : *t)
      m.per_metric[std::string(metric.str())] = positive(x, "margin." + std::string(metric.str()));
  } else {
    m.all = positive(n, "margin");
  }
  return m;
}

DecidePlan parse_decide(const toml::node& v, const std::string& fname) {
  const auto* t = v.as_table();
  if (!t) throw ConfigError(fmt::format("{}: [decide] must be a table", where(fname, v, "decide")));
  static const std::vector<std::string> fields{
      "vs", "metrics", "margin", "alpha", "min_seeds", "max_seeds", "seed_step", "resamples", "pooled_seed_variance"};
  DecidePlan plan;
  bool has_max = false;
  for (const auto& [k, n] : *t) {
    const std::string field(k.str());
    const std::string w = where(fname, n, "[decide] " + field);
    if (field == "vs")
      plan.vs = strings_of(n, w, field);
    else if (field == "metrics")
      plan.metrics = strings_of(n, w, field);
    else if (field == "margin")
      plan.margins = margins_of(n, w);
    else if (field == "alpha")
      plan.alpha = number_of(n, w, field);
    else if (field == "min_seeds")
      plan.min_seeds = integer_of(n, w, field);
    else if (field == "max_seeds") {
      plan.max_seeds = integer_of(n, w, field);
      has_max = true;
    } else if (field == "seed_step")
      plan.seed_step = integer_of(n, w, field);
    else if (field == "resamples")
      plan.resamples = integer_of(n, w, field, 100000);
    else if (field == "pooled_seed_variance")
      plan.pooled_seed_variance = boolean_of(n, w, field);
    else
      throw ConfigError(fmt::format("{}: unknown [decide] key '{}'{} (expected {})", w, field,
                                    did_you_mean(field, fields), fmt::join(fields, ", ")));
  }
  if (!has_max)
    throw ConfigError(
        fmt::format("{}: [decide] needs max_seeds (the most seeds an arm gets)", where(fname, v, "decide")));
  validate(plan, where(fname, v, "decide"));
  return plan;
}

// [decide] chooses the seeds: a `seeds` list or a run.seed axis would fight it.
void check_decide_seeds(const std::string& fname, bool has_seeds, const std::vector<std::vector<Axis>>& grids,
                        const std::vector<Axis>& cli_axes, const std::vector<std::string>& set_overrides) {
  const std::string why = "[decide] runs seeds 0, 1, ... up to max_seeds - 1 where a comparison is still open";
  if (has_seeds) throw ConfigError(fmt::format("{}: seeds cannot be given with [decide]: {}", fname, why));
  const auto is_seed = [](const Axis& a) { return a.key == "run.seed"; };
  for (const auto& g : grids)
    if (std::any_of(g.begin(), g.end(), is_seed))
      throw ConfigError(fmt::format("{}: [[grid]] run.seed cannot be given with [decide]: {}", fname, why));
  if (std::any_of(cli_axes.begin(), cli_axes.end(), is_seed))
    throw ConfigError(fmt::format("override run.seed: cannot be given with [decide] ({}): {}", fname, why));
  for (const auto& o : set_overrides)
    if (o.rfind("run.seed=", 0) == 0)
      throw ConfigError(fmt::format("{}: [set] run.seed cannot be given with [decide]: {}", fname, why));
}

// All combinations of the axes' values (cartesian product), each as key=value overrides.
std::vector<std::vector<std::string>> product(const std::vector<Axis>& axes) {
  std::vector<std::vector<std::string>> out{{}};
  for (const auto& a : axes) {
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : out)
      for (const auto& v : a.values) {
        auto combo = prefix;
        combo.push_back(a.key + "=" + v);
        next.push_back(std::move(combo));
      }
    out = std::move(next);
  }
  return out;
}

struct RunRecipe {
  std::vector<std::string> overrides;  // applied in order after the base files
};

SweepSpec finish(std::string name, const std::vector<std::filesystem::path>& base_files,
                 const std::vector<RunRecipe>& recipes) {
  SweepSpec spec;
  spec.name = std::move(name);
  std::set<std::string> seen;
  for (const auto& r : recipes) {
    ConfigBuilder b;
    for (const auto& f : base_files) b.add_file(f);
    b.add_overrides(r.overrides);
    b.add_override("run.experiment=" + spec.name);
    Config cfg = b.build();
    const std::string hash = config_hash_hex(cfg);
    if (!seen.insert(hash).second) continue;  // the same run reached through two grids
    SweepRun run;
    run.index = spec.runs.size();
    run.hash = hash;
    run.paths = run_paths(cfg);
    run.config = std::move(cfg);
    spec.runs.push_back(std::move(run));
  }
  // Axis keys: every result-affecting key whose value differs between runs.
  for (const auto& key : config_keys()) {
    if (is_unhashed_key(key) || spec.runs.empty()) continue;
    const std::string first = config_value(spec.runs.front().config, key);
    for (const auto& run : spec.runs)
      if (config_value(run.config, key) != first) {
        spec.axis_keys.push_back(key);
        break;
      }
  }
  for (auto& run : spec.runs)
    for (const auto& key : spec.axis_keys) run.axes.emplace_back(key, config_value(run.config, key));
  return spec;
}

}  // namespace

std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (const char ch : text) {
    if (quote) {
      if (ch == quote) quote = 0;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '[' || ch == '{') {
      ++depth;
    } else if (ch == ']' || ch == '}') {
      --depth;
    } else if (ch == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += ch;
  }
  out.push_back(cur);
  return out;
}

SweepSpec load_sweep_file(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  if (!std::filesystem::is_regular_file(file))
    throw ConfigError(fmt::format("sweep file not found: {}", file.string()));
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}:{}: TOML syntax error: {}", file.string(), e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  const std::string fname = file.string();
  std::vector<std::filesystem::path> bases;
  std::vector<std::int64_t> seeds;
  std::vector<std::string> set_overrides;
  std::vector<std::vector<Axis>> grids;
  std::optional<DecidePlan> decide;
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (key == "base") {
      const auto s = v.value<std::string>();
      if (!s)
        throw ConfigError(fmt::format("{}: base must be a string (a config file relative to the sweep file)",
                                      where(fname, v, "base")));
      bases.push_back(file.parent_path() / *s);
    } else if (key == "seeds") {
      const auto* arr = v.as_array();
      if (!arr || arr->empty() || !arr->is_homogeneous(toml::node_type::integer))
        throw ConfigError(fmt::format("{}: seeds must be a non-empty array of integers", where(fname, v, "seeds")));
      for (const auto& s : *arr) seeds.push_back(*s.value<std::int64_t>());
    } else if (key == "set") {
      const auto* tbl = v.as_table();
      if (!tbl) throw ConfigError(fmt::format("{}: [set] must be a table", where(fname, v, "set")));
      std::vector<std::pair<std::string, const toml::node*>> flat;
      flatten(*tbl, "", flat);
      for (const auto& [dk, node] : flat) {
        check_config_key(dk, where(fname, *node, "[set]"));
        set_overrides.push_back(dk + "=" + value_text(*node));
      }
    } else if (key == "grid") {
      for (auto& axes : parse_grids(v, fname)) grids.push_back(std::move(axes));
    } else if (key == "decide") {
      decide = parse_decide(v, fname);
    } else {
      throw ConfigError(fmt::format("{}: unknown sweep-file key '{}' (expected base, seeds, [set], [[grid]], [decide])",
                                    where(fname, v, key), key));
    }
  }
  if (grids.empty()) grids.emplace_back();
  std::vector<Axis> cli_axes;
  for (const auto& o : overrides) cli_axes.push_back(parse_override_axis(o));
  if (decide) {
    check_decide_seeds(fname, !seeds.empty(), grids, cli_axes, set_overrides);
    for (int s = 0; s < decide->max_seeds; ++s) seeds.push_back(s);
  }
  if (seeds.empty()) seeds.push_back(0);

  std::vector<RunRecipe> recipes;
  for (const auto& grid : grids) {
    auto axes = grid;
    for (const auto& cli : cli_axes) {  // command-line values replace the grid's own for that key
      axes.erase(std::remove_if(axes.begin(), axes.end(), [&](const Axis& a) { return a.key == cli.key; }), axes.end());
      axes.push_back(cli);
    }
    for (const auto& combo : product(axes))
      for (const auto seed : seeds) {
        RunRecipe r;
        r.overrides = set_overrides;
        r.overrides.insert(r.overrides.end(), combo.begin(), combo.end());
        if (std::none_of(combo.begin(), combo.end(), [](const std::string& s) { return s.rfind("run.seed=", 0) == 0; }))
          r.overrides.push_back(fmt::format("run.seed={}", seed));
        recipes.push_back(std::move(r));
      }
  }
  SweepSpec spec = finish(file.stem().string(), bases, recipes);
  spec.decide = std::move(decide);
  if (spec.decide) plan_comparisons(*spec.decide, sweep_design(spec));  // ConfigError for a vs that pairs nothing
  return spec;
}

SweepSpec make_multirun(const std::vector<std::filesystem::path>& configs, const std::vector<std::string>& overrides,
                        const std::string& name) {
  std::vector<Axis> axes;
  std::string spec_text;
  for (const auto& c : configs) spec_text += "config " + c.string() + "\n";
  for (const auto& o : overrides) {
    axes.push_back(parse_override_axis(o));
    spec_text += o + "\n";
  }
  std::vector<RunRecipe> recipes;
  for (auto& combo : product(axes)) recipes.push_back({std::move(combo)});
  const std::string experiment = name.empty() ? "adhoc-" + hex64(hash64(spec_text)).substr(0, 8) : name;
  return finish(experiment, configs, recipes);
}

RunStatusInfo run_state(const SweepRun& run) {
  std::error_code ec;
  if (std::filesystem::exists(run.paths.result_file, ec)) {
    try {
      const RunFileReader reader(run.paths.result_file);
      const RunStatus status = reader.info().status;
      return {RunState::done, std::string(to_string(status)), status};
    } catch (const Error& e) {
      return {RunState::done, std::string("unreadable result file: ") + e.what(), std::nullopt};
    }
  }
  if (const auto ckpts = list_checkpoints(run.paths.work_dir); !ckpts.empty())
    return {RunState::partial, fmt::format("checkpoint at iteration {}", ckpts.back().first), std::nullopt};
  return {RunState::todo, "", std::nullopt};
}

std::vector<std::size_t> shard_indices(std::size_t runs, int shard, int shards) {
  if (shards < 1 || shard < 0 || shard >= shards)
    throw OptionError("shard", fmt::format("{}/{}: expected i/N with 0 <= i < N", shard, shards));
  std::vector<std::size_t> out;
  for (std::size_t i = static_cast<std::size_t>(shard); i < runs; i += static_cast<std::size_t>(shards))
    out.push_back(i);
  return out;
}

}  // namespace fcnlab
