#pragma once
// The subcommands of `fcnlab`. Each lives in its own cmd_<name>.cpp and is listed in commands.cpp.
#include <string>
#include <string_view>
#include <vector>

namespace fcnlab::cli {

using Args = std::vector<std::string>;  // the arguments after the command name

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `fcnlab --help`
  int (*run)(const Args& args);
};

const std::vector<Command>& commands();

int cmd_config(const Args& args);
int cmd_train(const Args& args);
int cmd_eval(const Args& args);
int cmd_predict(const Args& args);
int cmd_rerun(const Args& args);
int cmd_show(const Args& args);
int cmd_sweep(const Args& args);
int cmd_model(const Args& args);
int cmd_report(const Args& args);
int cmd_make_toy(const Args& args);
int cmd_check_data(const Args& args);
int cmd_bench(const Args& args);
int cmd_eval_masks(const Args& args);
int bench_data(const Args& args);     // fcnlab bench data
int bench_train(const Args& args);    // fcnlab bench train
int bench_metrics(const Args& args);  // fcnlab bench metrics
int bench_loss(const Args& args);     // fcnlab bench loss
int bench_eval(const Args& args);     // fcnlab bench eval

}  // namespace fcnlab::cli
