#pragma once
// What `fcnlab` prints for an error. Libraries name their options structs' fields; this is the one
// place that turns them into the flags that set them.
#include <string>

#include "core/error.h"

namespace fcnlab::cli {

// The flag of an options field: "gpus_per_task" -> "--gpus-per-task".
std::string flag_of(const std::string& option);

// e.what(), with an OptionError's field named by its flag and a mixed report row followed by the
// flags that resolve it.
std::string error_message(const Error& e);

}  // namespace fcnlab::cli
