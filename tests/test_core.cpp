// Tests of src/core pieces not covered elsewhere: the progress line, writing files atomically,
// the processor model from /proc/cpuinfo.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "core/error.h"
#include "core/file.h"
#include "core/host.h"
#include "core/progress.h"
#include "helpers.h"

using namespace fcnlab;

namespace {
// Routes the default logger into a string for the scope's lifetime.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Points stderr at /dev/null for the scope's lifetime, so Progress sees no terminal even when the
// test runs in one.
class StderrNotATerminal {
 public:
  StderrNotATerminal() : saved_(::dup(2)) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::close(null);
  }
  ~StderrNotATerminal() {
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  StderrNotATerminal(const StderrNotATerminal&) = delete;
  StderrNotATerminal& operator=(const StderrNotATerminal&) = delete;

 private:
  int saved_;
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("progress off a terminal: logged lines, and the final state once", "[core]") {
  const StderrNotATerminal no_tty;  // off a terminal Progress logs through spdlog
  CapturedLog log;
  {
    Progress p("sweep x", 4, /*log_every_s=*/0.0);
    p.update(2, "half");
    p.update(4, "all done");
    p.finish("all done");  // the same state as the last logged line: not logged again
  }
  CHECK(count(log.text(), "sweep x 2/4 (50%) half") == 1);
  CHECK(count(log.text(), "sweep x 4/4 (100%) all done") == 1);
  {
    Progress p("run y", 3, 0.0);
    p.update(3, "loss 0.5");
    p.finish("loss 0.4");  // a different final detail is logged
  }
  CHECK(count(log.text(), "run y 3/3 (100%) loss 0.5") == 1);
  CHECK(count(log.text(), "run y 3/3 (100%) loss 0.4") == 1);
}

TEST_CASE("progress shows the caller's ETA when it gives one, else one from the rate", "[core]") {
  const StderrNotATerminal no_tty;
  CapturedLog log;
  {
    Progress p("sweep z", 10, 0.0);
    p.update(0, "starting");         // nothing done: no rate, no estimate
    p.update(2, "two done", 100.0);  // the caller's estimate
    p.finish("all");
  }
  CHECK_THAT(log.text(), Catch::Matchers::Contains("sweep z 0/10 (0%) starting | elapsed 0s ETA ?"));
  CHECK_THAT(log.text(), Catch::Matchers::Contains("sweep z 2/10 (20%) two done | elapsed 0s ETA 1m40s"));
  CHECK_THAT(log.text(), Catch::Matchers::Contains("sweep z 10/10 (100%) all | elapsed 0s ETA 0s"));
}

TEST_CASE("move_into_place replaces the target; on failure it removes the temp file and names both", "[core]") {
  const fcnlab::test::TempDir dir;
  const auto tmp = dir / ".result.tmp", file = dir / "result.txt";
  fcnlab::test::write_file(file, "old");
  fcnlab::test::write_file(tmp, "new");
  move_into_place(tmp, file);
  CHECK(fcnlab::test::read_file(file) == "new");
  CHECK_FALSE(std::filesystem::exists(tmp));

  fcnlab::test::write_file(tmp, "newer");
  const auto nowhere = dir / "missing-dir" / "result.txt";
  try {
    move_into_place(tmp, nowhere);
    FAIL("expected an IoError");
  } catch (const IoError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains(tmp.string()) && Catch::Matchers::Contains(nowhere.string()));
  }
  CHECK_FALSE(std::filesystem::exists(tmp));  // nothing half-done is left behind
  CHECK(fcnlab::test::read_file(file) == "new");

  remove_temp_file(tmp);  // already gone: no error
  CHECK_FALSE(std::filesystem::exists(tmp));
}

TEST_CASE("write_file_atomically leaves the whole file and no temp file; a bad directory is named", "[core]") {
  const fcnlab::test::TempDir dir;
  const auto file = dir / "config.toml";
  const std::string contents(1 << 20, 'x');  // larger than one write() may take
  fcnlab::test::write_file(file, "old");
  write_file_atomically(file, contents, "123");
  CHECK(fcnlab::test::read_file(file) == contents);
  CHECK(temp_file_for(file, "123") == dir / ".config.toml.123.tmp");
  CHECK(temp_file_for(dir / "ckpt-000000010.pt") == dir / ".ckpt-000000010.pt.tmp");
  CHECK(part_file_for(dir / "run.h5") == dir / "run.h5.part");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);  // the temp file is gone

  // A regular file where the directory should be: no directory to write in, whoever runs this.
  const auto not_a_dir = dir / "config.toml" / "sub";
  const auto io_error = [](auto&& action) -> std::string {
    try {
      action();
    } catch (const IoError& e) {
      return e.what();
    }
    return "no IoError";
  };
  CHECK_THAT(io_error([&] { write_file_atomically(not_a_dir / "x.toml", "y"); }),
             Catch::Matchers::Contains(not_a_dir.string()));
  CHECK_THAT(io_error([&] { sync_file(dir / "missing"); }),
             Catch::Matchers::Contains((dir / "missing").string()) && Catch::Matchers::Contains("No such file"));
  CHECK_THAT(io_error([&] { sync_directory(dir / "missing"); }), Catch::Matchers::Contains((dir / "missing").string()));
  CHECK(fcnlab::test::read_file(file) == contents);
}

TEST_CASE("the CPU model is /proc/cpuinfo's first model name, trimmed; none is an empty string", "[core]") {
  const std::string intel =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 143\n"
      "model name\t:  Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz \r\nflags\t\t: fpu\n\n"
      "processor\t: 1\nmodel name\t: Another CPU\n";
  CHECK(cpu_model_from_cpuinfo(intel) == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz");
  // Many ARM kernels name no model: unknown, not the "model" number or another field.
  CHECK(cpu_model_from_cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\nmodel\t: 1\n").empty());
  CHECK(cpu_model_from_cpuinfo("").empty());
}

TEST_CASE("UTC time stamps follow the format; the own executable is this test binary", "[core]") {
  const std::string stamp = utc_now();
  REQUIRE(stamp.size() == 20);  // 2026-12-07T04:30:00Z
  CHECK(stamp[4] == '-');
  CHECK(stamp[10] == 'T');
  CHECK(stamp.back() == 'Z');
  CHECK(std::stoi(stamp.substr(0, 4)) >= 2026);
  const std::string compact = utc_now("%Y%m%d-%H%M%S");
  CHECK(compact.size() == 15);
  CHECK(compact.substr(0, 4) == stamp.substr(0, 4));
  CHECK(self_exe().filename() == "fcnlab_test_core");
}
