// End-to-end tests of the fcnlab executable: help, version, exit codes, `config`.
#include <catch2/catch.hpp>

#include "helpers.h"

using Catch::Matchers::Contains;
using fcnlab::test::run_fcnlab;

TEST_CASE("fcnlab --help lists the commands and exits 0", "[cli]") {
  const auto r = run_fcnlab("--help");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("Usage: fcnlab <command>") && Contains("config"));
}

TEST_CASE("fcnlab --version names the commit and LibTorch", "[cli]") {
  const auto r = run_fcnlab("--version");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("fcnlab 0.") && Contains("commit") && Contains("LibTorch"));
}

TEST_CASE("usage errors exit 2", "[cli]") {
  CHECK(run_fcnlab("").exit_code == 2);
  auto r = run_fcnlab("frobnicate");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("unknown command 'frobnicate'"));
  r = run_fcnlab("config --no-such-option");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("no-such-option"));
  // A missing file argument is an error that says what is missing, not only the help text.
  for (const char* command : {"show", "rerun", "eval", "bench"}) {
    INFO(command);
    r = run_fcnlab(command);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Contains(std::string("fcnlab: error: fcnlab ") + command + ": missing"));
  }
}

TEST_CASE("fcnlab config --help", "[cli]") {
  const auto r = run_fcnlab("config --help");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("--config") && Contains("--diff"));
}

TEST_CASE("fcnlab config prints canonical TOML and the hash", "[cli]") {
  const auto r = run_fcnlab("config model.skip=16");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("[model]") && Contains("skip = 16") && Contains("# hash: "));
  const auto h1 = run_fcnlab("config --hash model.skip=16");
  const auto h2 = run_fcnlab("config --hash model.skip=8");
  CHECK(h1.exit_code == 0);
  CHECK(h1.out.size() == 17);
  CHECK(h1.out != h2.out);
  CHECK_THAT(r.out, Contains(h1.out.substr(0, 16)));
}

TEST_CASE("fcnlab config --diff prints only what differs", "[cli]") {
  const auto r = run_fcnlab("config --diff loss.name=lovasz");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("[loss]") && Contains("name = \"lovasz\""));
  CHECK(r.out.find("[model]") == std::string::npos);
}

TEST_CASE("fcnlab config reads --config files; config errors exit 2", "[cli]") {
  const auto src = fcnlab::test::source_dir().string();
  auto r = run_fcnlab("config --config " + src + "/configs/toy.toml --diff");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("padding = \"same\""));
  r = run_fcnlab("config --config /no/such.toml");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("/no/such.toml"));
  r = run_fcnlab("config model.fusion=avg");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.out, Contains("sum | concat | max"));
}
