// Tests of src/sweep/slurm (torch-free): shell quoting, array specs of unfinished runs, the sbatch
// script (options, quoting of the task command, signal handling and self-requeue run with bash and
// fake fcnlab/scontrol programs), submission records, and `fcnlab sweep --launcher slurm --dry-run`.
// The real-SLURM scenarios are in tests/slurm/run.sh.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "helpers.h"
#include "sweep/slurm.h"
#include "sweep/sweep.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::read_file;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;
using fcnlab::test::write_file;

namespace {

SweepSpec four_runs(const std::filesystem::path& results) {
  return make_multirun({}, {"model.skip=32,16,8,4", "run.results_dir=" + results.string()}, "sl");
}

}  // namespace

TEST_CASE("shell_quote leaves safe words alone and single-quotes the rest", "[slurm]") {
  CHECK(shell_quote("model.skip=8") == "model.skip=8");
  CHECK(shell_quote("/abs/path/fcnlab") == "/abs/path/fcnlab");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("$HOME") == "'$HOME'");
  CHECK(shell_quote("data.scale=[0.5,2.0]") == "'data.scale=[0.5,2.0]'");
}

TEST_CASE("array_spec compresses runs of indices and adds the parallelism", "[slurm]") {
  CHECK(array_spec({0, 1, 2, 3}, 0) == "0-3");
  CHECK(array_spec({3, 5, 7}, 2) == "3,5,7%2");
  CHECK(array_spec({9, 0, 1, 5, 6, 7, 1}, 0) == "0-1,5-7,9");
  CHECK(array_spec({4}, 1) == "4%1");
  CHECK_THROWS_AS(array_spec({}, 0), std::invalid_argument);
  CHECK_THROWS_WITH(array_spec({1}, -1), Contains("array_parallelism -1"));
}

TEST_CASE("parse_launcher accepts local and slurm only", "[slurm]") {
  CHECK(parse_launcher("slurm") == Launcher::slurm);
  CHECK(parse_launcher("local") == Launcher::local);
  CHECK(to_string(Launcher::slurm) == "slurm");
  CHECK_THROWS_WITH(parse_launcher("pbs"), Contains("launcher 'pbs'") && Contains("local, slurm"));
}

TEST_CASE("only unfinished runs go into the array", "[slurm]") {
  TempDir dir;
  const SweepSpec s = four_runs(dir.path());
  REQUIRE(s.runs.size() == 4);
  CHECK(unfinished_runs(s) == std::vector<std::size_t>{0, 1, 2, 3});
  write_file(s.runs[1].paths.result_file, "not hdf5, but a result file: the run has ended");
  write_file(s.runs[2].paths.work_dir / "ckpt-000000020.pt", "x");  // partial: still in the array
  CHECK(unfinished_runs(s) == std::vector<std::size_t>{0, 2, 3});
  CHECK(slurm_dir(s) == dir.path() / "sl" / "slurm");
  CHECK(slurm_dir(s).is_absolute());
}

TEST_CASE("validate names the bad option and value", "[slurm]") {
  SlurmOptions o;
  CHECK_NOTHROW(validate(o));
  o.time = "1-12:00:00";
  o.mem = "32G";
  o.partition = "gpu,gpu-long";
  CHECK_NOTHROW(validate(o));
  SlurmOptions bad = o;
  bad.time = "2h";
  CHECK_THROWS_WITH(validate(bad), Contains("time '2h'"));
  bad = o;
  bad.mem = "lots";
  CHECK_THROWS_WITH(validate(bad), Contains("mem 'lots'"));
  bad = o;
  bad.partition = "gpu; rm -rf";
  CHECK_THROWS_AS(validate(bad), OptionError);
  bad = o;
  bad.sbatch_args = {"--account=x\n#SBATCH --evil"};
  CHECK_THROWS_WITH(validate(bad), Contains("sbatch_args") && Contains("newlines"));
  bad = o;
  bad.sbatch_args = {"account=x"};
  CHECK_THROWS_WITH(validate(bad), Contains("expected an sbatch option"));
  bad = o;
  bad.signal_seconds = 0;
  CHECK_THROWS_WITH(validate(bad), Contains("signal_seconds"));
}

TEST_CASE("the sbatch script carries the options, the array, the log pattern and the task command", "[slurm]") {
  TempDir dir;
  const SweepSpec s = four_runs(dir.path());
  SlurmJob job;
  job.exe = "/opt/fcn lab/fcnlab";
  job.workdir = dir.path();
  job.sweep_args = {"/x/exp.toml", "optim.iterations=40"};
  job.tasks = {0, 2, 3};
  SlurmOptions o;
  o.partition = "gpu";
  o.time = "04:00:00";
  o.gpus_per_task = 1;
  o.cpus_per_task = 8;
  o.mem = "32G";
  o.array_parallelism = 2;
  o.signal_seconds = 120;
  o.sbatch_args = {"--account=vision"};
  const std::string script = make_sbatch_script(s, job, o);
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
  CHECK_THAT(script, Contains("#SBATCH --array=0,2-3%2\n"));
  CHECK_THAT(script, Contains("#SBATCH --output=" + (dir.path() / "sl/slurm/%A_%a.log").string() + "\n"));
  CHECK_THAT(script, Contains("#SBATCH --signal=B:USR1@120\n"));
  CHECK_THAT(script, Contains("#SBATCH --requeue\n"));
  CHECK_THAT(script, Contains("#SBATCH --open-mode=append\n"));
  CHECK_THAT(script, Contains("#SBATCH --partition=gpu\n"));
  CHECK_THAT(script, Contains("#SBATCH --time=04:00:00\n"));
  CHECK_THAT(script, Contains("#SBATCH --gpus-per-task=1\n"));
  CHECK_THAT(script, Contains("#SBATCH --cpus-per-task=8\n"));
  CHECK_THAT(script, Contains("#SBATCH --mem=32G\n"));
  CHECK_THAT(script, Contains("#SBATCH --account=vision\n"));
  CHECK_THAT(script, Contains("'/opt/fcn lab/fcnlab' sweep /x/exp.toml optim.iterations=40 --task \"$task\" &"));
  CHECK_THAT(script, Contains(s.runs[2].paths.run_id));
  CHECK_THAT(script, !Contains(s.runs[1].paths.run_id));  // not in the array: not in the table either
  // defaults: no partition/time/gpu lines, no %K
  SlurmOptions plain;
  const std::string p = make_sbatch_script(s, job, plain);
  CHECK_THAT(p, Contains("#SBATCH --array=0,2-3\n") && !Contains("--partition") && !Contains("--gpus-per-task"));
  CHECK_THAT(p, Contains("#SBATCH --signal=B:USR1@300\n"));
  job.exe = "fcnlab";
  CHECK_THROWS_WITH(make_sbatch_script(s, job, plain), Contains("absolute"));
  job.exe = "/bin/fcnlab";
  job.tasks = {7};
  CHECK_THROWS_WITH(make_sbatch_script(s, job, plain), Contains("array task 7"));
}

// Runs the generated script with bash as SLURM would, the fcnlab binary and scontrol replaced by
// scripts that record what they receive.
TEST_CASE("the sbatch script passes arguments intact, forwards signals, requeues only on USR1", "[slurm]") {
  TempDir dir;
  const SweepSpec s = four_runs(dir / "res");
  const auto out = dir.path();
  write_file(dir / "fake-fcnlab",
             "#!/bin/bash\nprintf '%s\\n' \"$@\" > \"$OUT/args\"\n"
             "trap 'echo TERM >> \"$OUT/signals\"; exit 1' TERM\n"
             "echo started > \"$OUT/started\"\n"
             "for i in $(seq 100); do sleep 0.1; done\nexit 0\n");
  write_file(dir / "bin/scontrol", "#!/bin/bash\necho \"$@\" >> \"$OUT/scontrol\"\n");
  std::filesystem::permissions(dir / "fake-fcnlab", std::filesystem::perms::owner_all);
  std::filesystem::permissions(dir / "bin/scontrol", std::filesystem::perms::owner_all);
  SlurmJob job;
  job.exe = dir / "fake-fcnlab";
  job.workdir = dir.path();
  job.sweep_args = {"/x/my exp.toml", "run.name=it's", "data.scale=[0.5,2.0]", "$HOME"};
  job.tasks = {1, 2};
  write_file(dir / "job.sbatch", make_sbatch_script(s, job, SlurmOptions{}));

  auto run_script = [&](const std::string& signal) {
    std::filesystem::remove(dir / "started");
    std::filesystem::remove(dir / "signals");
    const std::string cmd =
        "cd '" + out.string() + "' && ( export OUT='" + out.string() + "' PATH='" + (out / "bin").string() +
        "':\"$PATH\" SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_JOB_ID=77; bash job.sbatch > job.log 2>&1 & p=$!; "
        "for i in $(seq 100); do [ -f started ] && break; sleep 0.1; done; " +
        (signal.empty() ? std::string() : "kill -" + signal + " $p; ") + "wait $p; echo $? > rc )";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return std::stoi(read_file(dir / "rc"));
  };

  SECTION("no signal: the task command gets every argument as one word, and its exit status is the job's") {
    CHECK(run_script("") == 0);
    CHECK(read_file(dir / "args") == "sweep\n/x/my exp.toml\nrun.name=it's\ndata.scale=[0.5,2.0]\n$HOME\n--task\n2\n");
    CHECK(!std::filesystem::exists(dir / "signals"));
    CHECK(!std::filesystem::exists(dir / "scontrol"));
  }
  SECTION("USR1 (time limit near): fcnlab gets TERM, then the task requeues itself") {
    CHECK(run_script("USR1") == 1);
    CHECK(read_file(dir / "signals") == "TERM\n");
    CHECK(read_file(dir / "scontrol") == "requeue 77_2\n");
    CHECK_THAT(read_file(dir / "job.log"), Contains("requeueing 77_2"));
  }
  SECTION("TERM (scancel --batch --signal=TERM): fcnlab gets TERM, no requeue") {
    CHECK(run_script("TERM") == 1);
    CHECK(read_file(dir / "signals") == "TERM\n");
    CHECK(!std::filesystem::exists(dir / "scontrol"));
  }
}

TEST_CASE("submissions are recorded per run; the newest wins", "[slurm]") {
  TempDir dir;
  const SweepSpec s = four_runs(dir.path());
  std::filesystem::create_directories(slurm_dir(s));
  record_submission(s, "100", {0, 1, 2, 3}, "/x/a.sbatch");
  record_submission(s, "105", {2}, "/x/b.sbatch");
  const auto subs = read_submissions(slurm_dir(s) / "jobs.tsv");
  REQUIRE(subs.size() == 4);
  CHECK(subs.at(s.runs[0].paths.run_id).job_id == "100");
  CHECK(subs.at(s.runs[2].paths.run_id).job_id == "105");
  CHECK(subs.at(s.runs[2].paths.run_id).task == 2);
  CHECK(read_submissions(dir / "missing.tsv").empty());
}

TEST_CASE("queued and running states are active; ended ones are not", "[slurm]") {
  CHECK(is_active_slurm_state("PENDING"));
  CHECK(is_active_slurm_state("RUNNING"));
  CHECK(is_active_slurm_state("REQUEUED"));
  CHECK(!is_active_slurm_state("COMPLETED"));
  CHECK(!is_active_slurm_state("CANCELLED"));
  CHECK(!is_active_slurm_state("FAILED"));
  CHECK(!is_active_slurm_state("TIMEOUT"));
}

TEST_CASE("have_program finds programs in PATH only", "[slurm]") {
  CHECK(have_program("sh"));
  CHECK(!have_program("fcnlab-no-such-program"));
}

TEST_CASE("fcnlab sweep --launcher slurm --dry-run prints the script and the table, submits nothing", "[slurm][cli]") {
  TempDir dir;
  const std::string args = "sweep --name dr model.skip=32,8 run.results_dir=" + (dir / "res").string() +
                           " --launcher slurm --partition gpu --array-parallelism 1 --sbatch-arg=--account=abc";
  const auto r = run_fcnlab(args + " --time 01:00:00 --dry-run");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("#SBATCH --array=0-1%1") && Contains("#SBATCH --partition=gpu") &&
                        Contains("#SBATCH --account=abc") && Contains("--name dr") && Contains("--task \"$task\""));
  CHECK_THAT(r.out, Contains(std::string(FCNLAB_EXE)));
  CHECK_THAT(r.out, Contains("2 of 2 runs to submit") && Contains("todo"));
  CHECK(!std::filesystem::exists(dir / "res/dr/slurm"));
  const auto bad = run_fcnlab(args + " --dry-run --time 2h");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.out, Contains("--time '2h'"));
  const auto bad_arg = run_fcnlab(args + " --dry-run --sbatch-arg account=x");
  CHECK(bad_arg.exit_code == 2);
  CHECK_THAT(bad_arg.out, Contains("--sbatch-arg 'account=x': expected an sbatch option"));
  const auto bad2 = run_fcnlab(args + " --dry-run --jobs 2");
  CHECK(bad2.exit_code == 2);
  CHECK_THAT(bad2.out, Contains("for local runs"));
  const auto st = run_fcnlab("sweep --name dr model.skip=32,8 run.results_dir=" + (dir / "res").string() + " --status");
  CHECK(st.exit_code == 0);
  CHECK_THAT(st.out, Contains("0 done, 0 partial, 2 todo"));
}
