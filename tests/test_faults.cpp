// Tests of the per-run lock (src/train/run_lock.h) and of what it guarantees end to end: one
// process per run, stale locks of dead processes taken over, a locked run refused by `fcnlab
// train` and waited for by `fcnlab sweep`, finished runs never retrained. The kill/bad-input/
// concurrency scenarios are the scripts in tests/faults/ (registered below them in CMake).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "config/loader.h"
#include "core/error.h"
#include "helpers.h"
#include "results/run_file.h"
#include "train/run_lock.h"
#include "train/run_paths.h"
#include "train/trainer.h"

using namespace fcnlab;
using Catch::Matchers::Contains;
using fcnlab::test::read_file;
using fcnlab::test::run_fcnlab;
using fcnlab::test::TempDir;
using fcnlab::test::write_file;

namespace {

// A child process that takes the lock with raw syscalls (fork-safe), reports through a pipe, and
// sleeps until killed.
pid_t lock_in_child(const std::filesystem::path& file) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT, 0644);
    const char ok = (fd >= 0 && ::flock(fd, LOCK_EX) == 0) ? '1' : '0';
    if (::write(fds[1], &ok, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ok = 0;
  REQUIRE(::read(fds[0], &ok, 1) == 1);
  ::close(fds[0]);
  REQUIRE(ok == '1');
  std::ofstream(file) << "pid " << pid << " on test-host\n";  // the note RunLock writes (informational)
  return pid;
}

void make_toy(const std::filesystem::path& dir) {
  REQUIRE(run_fcnlab("make-toy --out " + dir.string() + " --train 8 --val 4").exit_code == 0);
}

std::string toy_overrides(const TempDir& dir) {
  return "--config " + (fcnlab::test::source_dir() / "configs/toy.toml").string() +
         " data.root=" + (dir / "toy").string() + " run.results_dir=" + (dir / "res").string() +
         " run.threads=1 optim.iterations=2 optim.batch_size=4 eval.every=0 eval.examples=0 checkpoint.every=0";
}

Config toy_config(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"data.root=" + (dir / "toy").string(),
                             "run.results_dir=" + (dir / "res").string(),
                             "run.threads=1",
                             "optim.iterations=2",
                             "optim.batch_size=4",
                             "eval.every=0",
                             "eval.examples=0",
                             "checkpoint.every=0"};
  o.insert(o.end(), extra.begin(), extra.end());
  return fcnlab::test::toy_config(o);
}

}  // namespace

TEST_CASE("run lock: exclusive, released by its destructor", "[faults][lock]") {
  TempDir dir;
  const auto file = run_lock_file(dir.path());
  CHECK_FALSE(run_lock_held(file));  // no file yet
  {
    auto lock = RunLock::try_acquire(file);
    REQUIRE(lock.has_value());
    CHECK(run_lock_held(file));
    CHECK_FALSE(RunLock::try_acquire(file).has_value());  // a second open file description conflicts
    CHECK_THAT(run_lock_holder(file), Contains("pid " + std::to_string(::getpid())));
    RunLock moved = std::move(*lock);
    lock.reset();  // the moved-from object releases nothing
    CHECK(run_lock_held(file));
  }
  CHECK_FALSE(run_lock_held(file));
  CHECK(RunLock::try_acquire(file).has_value());
  CHECK_THROWS_AS(RunLock::try_acquire(dir / "no/such/dir/lock"), IoError);
}

TEST_CASE("run lock: a killed holder's lock is taken over", "[faults][lock]") {
  TempDir dir;
  const auto file = run_lock_file(dir.path());
  const pid_t child = lock_in_child(file);
  CHECK(run_lock_held(file));
  CHECK_FALSE(RunLock::try_acquire(file).has_value());
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK_FALSE(run_lock_held(file));  // the kernel released it with the process
  CHECK(RunLock::try_acquire(file).has_value());
}

TEST_CASE("a locked run: fcnlab train refuses it, a sweep waits and takes it over", "[faults][lock][e2e]") {
  TempDir dir;
  make_toy(dir / "toy");
  const Config cfg = toy_config(dir);
  const RunPaths paths = run_paths(cfg);
  std::filesystem::create_directories(paths.work_dir);
  {
    const pid_t child = lock_in_child(run_lock_file(paths.work_dir));
    const auto r = run_fcnlab("train " + toy_overrides(dir));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Contains("being trained by another process") && Contains("pid " + std::to_string(child)) &&
                          Contains(paths.run_id));
    CHECK_FALSE(std::filesystem::exists(paths.result_file));
    // train.log is the holder's: the refused process writes nothing there.
    CHECK_FALSE(std::filesystem::exists(paths.work_dir / "train.log"));
    // A sweep's child tells "locked" by its own code: the holder may be gone when the sweep looks.
    const auto coded = run_fcnlab("train --locked-code 4 " + toy_overrides(dir));
    CHECK(coded.exit_code == 4);
    CHECK_THAT(coded.out, Contains("being trained by another process"));

    // A sweep over this run and another: trains the other, waits for the locked one, and when the
    // holder dies without finishing it, trains it itself.
    auto sweep = std::async(std::launch::async, [&] {
      return run_fcnlab("sweep " + toy_overrides(dir) + " --name " + cfg.run.experiment +
                        " run.seed=" + std::to_string(cfg.run.seed) + "," + std::to_string(cfg.run.seed + 1));
    });
    std::this_thread::sleep_for(std::chrono::seconds(8));
    CHECK(sweep.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);  // still waiting
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    const auto s = sweep.get();
    INFO(s.out);
    CHECK(s.exit_code == 0);
    CHECK_THAT(s.out, Contains("is being trained by another process") && Contains("no longer locked") &&
                          Contains("2 trained now"));
  }
  REQUIRE(std::filesystem::exists(paths.result_file));
  CHECK(RunFileReader(paths.result_file).info().status == RunStatus::finished);
}

TEST_CASE("a run with a result file is never trained again", "[faults][lock][e2e]") {
  TempDir dir;
  make_toy(dir / "toy");
  const auto first = run_fcnlab("train " + toy_overrides(dir));
  REQUIRE(first.exit_code == 0);
  const Config cfg = toy_config(dir);
  const RunPaths paths = run_paths(cfg);
  const std::string bytes = read_file(paths.result_file);
  const std::string log = read_file(paths.work_dir / "train.log");

  const auto second = run_fcnlab("train " + toy_overrides(dir));
  CHECK(second.exit_code == 0);
  CHECK_THAT(second.out, Contains("already ended (status finished)"));
  // The check under the lock (a file that appeared while this process started): train_run itself.
  const TrainResult r = train_run(cfg, TrainOptions{});
  CHECK(r.already_ended);
  CHECK(r.status == RunStatus::finished);
  CHECK(read_file(paths.result_file) == bytes);
  CHECK(read_file(paths.work_dir / "train.log") == log);

  // A damaged result file blocks the run too, and the error says how to get past it.
  write_file(paths.result_file, bytes.substr(0, bytes.size() / 2));
  const auto damaged = run_fcnlab("train " + toy_overrides(dir));
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.out, Contains(paths.result_file.string()) && Contains("use --restart to train it again"));
}
