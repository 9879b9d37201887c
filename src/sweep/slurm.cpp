#include "sweep/slurm.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "core/file.h"
#include "core/host.h"
#include "core/text.h"

namespace fcnlab {

namespace {

struct Captured {
  int status = -1;  // exit status, or -1 when the command could not run / was killed
  std::string out;
};

struct PipeCloser {
  void operator()(FILE* f) const {
    if (f) ::pclose(f);
  }
};

// Runs `command` through /bin/sh and captures its stdout.
Captured capture(const std::string& command) {
  Captured c;
  FILE* raw = ::popen(command.c_str(), "r");
  if (!raw) return c;
  std::unique_ptr<FILE, PipeCloser> pipe(raw);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0) c.out.append(buf, n);
  const int st = ::pclose(pipe.release());
  c.status = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  return c;
}

bool all_of_chars(std::string_view s, std::string_view allowed_punct) {
  return std::all_of(s.begin(), s.end(), [&](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch)) || allowed_punct.find(ch) != std::string_view::npos;
  });
}

// A value on an #SBATCH line: quoted when it contains spaces (sbatch strips the quotes).
std::string sbatch_value(std::string_view v) {
  if (v.find_first_of(" \t") == std::string_view::npos) return std::string(v);
  return "\"" + std::string(v) + "\"";
}

// A value that can stand on one line of the script (no newline to start another, no quote to end one).
bool fits_on_line(std::string_view value) {
  return value.find_first_of("\n\r\"") == std::string_view::npos;
}

}  // namespace

std::string_view to_string(Launcher launcher) {
  switch (launcher) {
    case Launcher::local:
      return "local";
    case Launcher::slurm:
      return "slurm";
  }
  return "?";
}

Launcher parse_launcher(std::string_view text) {
  if (text == "local") return Launcher::local;
  if (text == "slurm") return Launcher::slurm;
  throw OptionError("launcher", fmt::format("'{}': expected one of local, slurm", text));
}

std::string shell_quote(std::string_view word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) ||
           std::string_view("_./=:,+@%-").find(ch) != std::string_view::npos;
  });
  if (safe) return std::string(word);
  std::string out = "'";
  for (const char ch : word) {
    if (ch == '\'')
      out += "'\\''";
    else
      out += ch;
  }
  return out + "'";
}

std::string array_spec(std::vector<std::size_t> indices, int parallelism) {
  if (indices.empty()) throw std::invalid_argument("array_spec: a SLURM array needs at least one task");
  if (parallelism < 0) throw OptionError("array_parallelism", fmt::format("{}: expected a count >= 0", parallelism));
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::string out;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", indices[i]) : fmt::format("{}-{}", indices[i], indices[j]);
    i = j + 1;
  }
  if (parallelism > 0) out += fmt::format("%{}", parallelism);
  return out;
}

std::vector<std::size_t> unfinished_runs(const SweepSpec& spec) {
  std::vector<std::size_t> out;
  for (const auto& run : spec.runs)
    if (run_state(run).state != RunState::done) out.push_back(run.index);
  return out;
}

std::filesystem::path slurm_dir(const SweepSpec& spec) {
  if (spec.runs.empty()) throw ConfigError("the sweep has no runs");
  return slurm_dir_of(std::filesystem::absolute(spec.runs.front().paths.experiment_dir).lexically_normal());
}

void validate(const SlurmOptions& o) {
  if (!o.time.empty() && (!all_of_chars(o.time, ":-") || !std::isdigit(static_cast<unsigned char>(o.time.front()))))
    throw OptionError("time", fmt::format("'{}': expected MM, HH:MM:SS or D-HH:MM:SS", o.time));
  if (!o.mem.empty()) {
    std::string_view m = o.mem;
    if (std::string_view("KMGTkmgt").find(m.back()) != std::string_view::npos) m.remove_suffix(1);
    if (m.empty() || !all_of_chars(m, ""))
      throw OptionError("mem", fmt::format("'{}': expected a size such as 16000 or 32G", o.mem));
  }
  if (!o.partition.empty() && !std::all_of(o.partition.begin(), o.partition.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == ',' || ch == '.';
      }))
    throw OptionError("partition",
                      fmt::format("'{}': expected partition names (letters, digits, _ - . ,)", o.partition));
  if (o.gpus_per_task < 0) throw OptionError("gpus_per_task", fmt::format("{}: expected >= 0", o.gpus_per_task));
  if (o.cpus_per_task < 0) throw OptionError("cpus_per_task", fmt::format("{}: expected >= 0", o.cpus_per_task));
  if (o.array_parallelism < 0)
    throw OptionError("array_parallelism", fmt::format("{}: expected >= 0", o.array_parallelism));
  if (o.signal_seconds < 1 || o.signal_seconds > 65535)
    throw OptionError("signal_seconds", fmt::format("{}: expected 1..65535", o.signal_seconds));
  for (const auto& a : o.sbatch_args) {
    if (!fits_on_line(a))
      throw OptionError("sbatch_args", fmt::format("'{}': newlines and double quotes are not allowed", a));
    if (a.rfind("-", 0) != 0)
      throw OptionError("sbatch_args", fmt::format("'{}': expected an sbatch option (-x or --xyz=v)", a));
  }
}

namespace {

// The #SBATCH directives and the table of the array's tasks (each task's run id).
void put_sbatch_header(std::ostream& s, const SweepSpec& spec, const SlurmJob& job, const SlurmOptions& o,
                       const std::filesystem::path& dir) {
  s << "#!/bin/bash\n"
    << "# fcnlab sweep " << spec.name << ": " << job.tasks.size() << " of " << spec.runs.size()
    << " runs as a SLURM job array (written by fcnlab sweep --launcher slurm, " << utc_now("%Y-%m-%dT%H:%M:%SZ")
    << ").\n"
    << "# Array task K trains run K of the sweep; resubmitting the sweep skips finished runs and resumes the others.\n"
    << "#SBATCH --job-name=" << sbatch_value("fcnlab-" + spec.name) << '\n'
    << "#SBATCH --array=" << array_spec(job.tasks, o.array_parallelism) << '\n'
    << "#SBATCH --output=" << sbatch_value(slurm_log_pattern(dir).string()) << '\n'
    << "#SBATCH --open-mode=append\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --signal=B:USR1@" << o.signal_seconds << '\n'
    << "#SBATCH --requeue\n";
  if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << '\n';
  if (!o.time.empty()) s << "#SBATCH --time=" << o.time << '\n';
  if (o.gpus_per_task > 0) s << "#SBATCH --gpus-per-task=" << o.gpus_per_task << '\n';
  if (o.cpus_per_task > 0) s << "#SBATCH --cpus-per-task=" << o.cpus_per_task << '\n';
  if (!o.mem.empty()) s << "#SBATCH --mem=" << o.mem << '\n';
  for (const auto& a : o.sbatch_args) s << "#SBATCH " << a << '\n';
  s << "#\n# task  run\n";
  for (const auto t : job.tasks) {
    if (t >= spec.runs.size())
      throw std::invalid_argument(
          fmt::format("SlurmJob: array task {}: the sweep has runs 0..{}", t, spec.runs.size() - 1));
    s << fmt::format("# {:>4}  {}\n", t, spec.runs[t].paths.run_id);
  }
}

// The shell part: runs `fcnlab sweep --task`, forwards SLURM's signals to it and requeues the task
// when its time limit nears.
void put_sbatch_body(std::ostream& s, const SlurmJob& job, const SlurmOptions& o) {
  std::string command = shell_quote(job.exe.string()) + " sweep";
  for (const auto& a : job.sweep_args) command += " " + shell_quote(a);
  command += " --task \"$task\"";
  s << "\nset -u\n"
    << "cd " << shell_quote(job.workdir.string()) << " || exit 1\n"
    << "task=\"${SLURM_ARRAY_TASK_ID:?not run as a SLURM array task}\"\n"
    << "echo \"fcnlab: task ${SLURM_ARRAY_JOB_ID:-?}_${task} on $(hostname) at $(date -u +%FT%TZ)"
       " (restart ${SLURM_RESTART_COUNT:-0})\"\n"
    << "# USR1 (time limit near): checkpoint, then requeue; TERM/INT: checkpoint and stop.\n"
    << "# fcnlab sweep forwards the TERM to its `fcnlab train` child, which finishes the step and checkpoints.\n"
    << "requeue=0\n"
    << "pid=\n"
    << "stop() { [ \"${1:-}\" = requeue ] && requeue=" << (o.requeue ? 1 : 0)
    << "; [ -n \"$pid\" ] && kill -TERM \"$pid\" 2>/dev/null; }\n"
    << "trap 'stop requeue' USR1\n"
    << "trap 'stop' TERM INT\n"
    << command << " &\n"
    << "pid=$!\n"
    << "while :; do\n"
    << "  wait \"$pid\"; rc=$?\n"
    << "  [ \"$rc\" -le 128 ] && break\n"
    << "  if ! kill -0 \"$pid\" 2>/dev/null; then wait \"$pid\"; r=$?; [ \"$r\" -ne 127 ] && rc=$r; break; fi\n"
    << "done\n"
    << "echo \"fcnlab: task ${SLURM_ARRAY_JOB_ID:-?}_${task} exit $rc at $(date -u +%FT%TZ)\"\n"
    << "if [ \"$requeue\" = 1 ] && [ \"$rc\" -ne 0 ]; then\n"
    << "  echo \"fcnlab: requeueing ${SLURM_ARRAY_JOB_ID}_${task}; it resumes from its checkpoint\"\n"
    << "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${task}\"\n"
    << "fi\n"
    << "exit \"$rc\"\n";
}

}  // namespace

std::string make_sbatch_script(const SweepSpec& spec, const SlurmJob& job, const SlurmOptions& o) {
  validate(o);
  if (!job.exe.is_absolute())
    throw std::invalid_argument(fmt::format("SlurmJob: fcnlab binary '{}' must be an absolute path", job.exe.string()));
  if (!job.workdir.is_absolute())
    throw std::invalid_argument(
        fmt::format("SlurmJob: working directory '{}' must be an absolute path", job.workdir.string()));
  const auto dir = slurm_dir(spec);
  if (!fits_on_line(dir.string()))
    throw ConfigError(
        fmt::format("run.results_dir: the SLURM directory '{}' has a newline or a double quote", dir.string()));
  std::ostringstream s;
  put_sbatch_header(s, spec, job, o, dir);
  put_sbatch_body(s, job, o);
  return s.str();
}

std::string task_table(const SweepSpec& spec, const std::vector<std::size_t>& tasks) {
  std::string out = fmt::format("{:>4}  {:<8} {}\n", "task", "state", "run");
  for (const auto t : tasks) {
    const auto& run = spec.runs.at(t);
    const auto st = run_state(run);
    std::string axes;
    for (const auto& [k, v] : run.axes) axes += fmt::format(" {}={}", k, v);
    out += fmt::format("{:>4}  {:<8} {}{}\n", t, to_string(st.state), run.paths.run_id, axes);
  }
  return out;
}

std::filesystem::path write_sbatch_script(const SweepSpec& spec, const std::string& script) {
  const auto dir = slurm_dir(spec);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(fmt::format("{}: cannot create: {}", dir.string(), ec.message()));
  const std::string stamp = utc_now("%Y%m%d-%H%M%S");
  auto file = sbatch_script_file(dir, stamp);
  for (int n = 2; std::filesystem::exists(file); ++n) file = sbatch_script_file(dir, stamp, n);
  write_file_atomically(file, script);
  std::filesystem::permissions(file, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add, ec);
  return file;
}

std::string submit_sbatch(const std::filesystem::path& script) {
  if (!have_program("sbatch")) throw Error("sbatch not found in PATH: is this a SLURM submit host?");
  const auto c = capture("sbatch --parsable " + shell_quote(script.string()) + " 2>&1");
  std::string out = trim(c.out);
  // --parsable prints "jobid" or "jobid;cluster" (warnings may come on earlier lines)
  const auto nl = out.rfind('\n');
  std::string last = nl == std::string::npos ? out : out.substr(nl + 1);
  last = last.substr(0, last.find(';'));
  if (c.status != 0 || last.empty() || !all_of_chars(last, ""))
    throw Error(fmt::format("sbatch {} failed (exit {}): {}", script.string(), c.status, out));
  return last;
}

void record_submission(const SweepSpec& spec, const std::string& job_id, const std::vector<std::size_t>& tasks,
                       const std::filesystem::path& script) {
  const auto file = slurm_jobs_file(slurm_dir(spec));
  const bool fresh = !std::filesystem::exists(file);
  std::ofstream out(file, std::ios::app);
  if (fresh) out << "job_id\ttask\trun_id\tsubmitted_utc\tscript\n";
  const std::string now = utc_now("%Y-%m-%dT%H:%M:%SZ");
  for (const auto t : tasks)
    out << job_id << '\t' << t << '\t' << spec.runs.at(t).paths.run_id << '\t' << now << '\t' << script.string()
        << '\n';
  out.close();
  if (!out) throw IoError(fmt::format("{}: cannot append", file.string()));
}

std::map<std::string, SubmittedTask> read_submissions(const std::filesystem::path& jobs_tsv) {
  std::map<std::string, SubmittedTask> out;
  std::ifstream in(jobs_tsv);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
    if (f.size() < 4 || f[0] == "job_id" || f[0].empty() || !all_of_chars(f[0], "") || !all_of_chars(f[1], "") ||
        f[1].empty())
      continue;  // header or a damaged line
    out[f[2]] = SubmittedTask{f[0], static_cast<std::size_t>(std::stoull(f[1])), f[2], f[3]};  // later lines win
  }
  return out;
}

bool have_program(std::string_view program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  for (std::string d; std::getline(ss, d, ':');) {
    if (d.empty()) continue;
    const auto p = std::filesystem::path(d) / std::string(program);
    if (::access(p.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(p)) return true;
  }
  return false;
}

std::map<std::string, std::string> slurm_task_states(const std::vector<std::string>& job_ids) {
  std::map<std::string, std::string> out;
  const std::set<std::string> ids(job_ids.begin(), job_ids.end());
  auto parse = [&](const std::string& text, char sep) {
    std::stringstream ss(text);
    for (std::string line; std::getline(ss, line);) {
      const auto p = line.find(sep);
      if (p == std::string::npos) continue;
      const std::string id = trim(line.substr(0, p));
      std::string state = trim(line.substr(p + 1));
      state = state.substr(0, state.find(' '));  // sacct: "CANCELLED by 0"
      if (id.find('_') != std::string::npos && !out.count(id)) out[id] = state;
    }
  };
  const bool squeue = have_program("squeue"), sacct = have_program("sacct");
  for (const auto& id : ids) {
    if (!all_of_chars(id, "")) continue;
    if (squeue) parse(capture("squeue -h -r -t all -j " + id + " -o '%i|%T' 2>/dev/null").out, '|');
    if (sacct) parse(capture("sacct -n -P -X -j " + id + " -o JobID,State 2>/dev/null").out, '|');
  }
  return out;
}

bool is_active_slurm_state(std::string_view state) {
  for (const std::string_view s : {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD",
                                   "REQUEUE_FED", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"})
    if (state == s) return true;
  return false;
}

std::vector<std::size_t> active_slurm_runs(const SweepSpec& spec) {
  const auto subs = read_submissions(slurm_jobs_file(slurm_dir(spec)));
  if (subs.empty()) return {};
  std::vector<std::string> ids;
  for (const auto& [run_id, sub] : subs) ids.push_back(sub.job_id);
  const auto states = slurm_task_states(ids);
  std::vector<std::size_t> out;
  for (const auto& run : spec.runs) {
    const auto it = subs.find(run.paths.run_id);
    if (it == subs.end()) continue;
    const auto st = states.find(fmt::format("{}_{}", it->second.job_id, it->second.task));
    if (st != states.end() && is_active_slurm_state(st->second)) out.push_back(run.index);
  }
  return out;
}

}  // namespace fcnlab
