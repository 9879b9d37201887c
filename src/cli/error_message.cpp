#include "cli/error_message.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <algorithm>

#include "report/report.h"

namespace fcnlab::cli {

std::string flag_of(const std::string& option) {
  if (option == "sbatch_args") return "--sbatch-arg";  // the one flag named for one of its values
  std::string flag = "--" + option;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string error_message(const Error& e) {
  if (const auto* o = dynamic_cast<const OptionError*>(&e)) return flag_of(o->option()) + " " + o->detail();
  if (const auto* m = dynamic_cast<const report::MixedRowError*>(&e))
    return fmt::format(
        "{}. Group them apart (--by {}), select runs with --where {}, or pass --pool to average over "
        "them on purpose",
        m->what(), fmt::join(m->by(), ","), m->where());
  return e.what();
}

}  // namespace fcnlab::cli
