#pragma once
// Error types of fcnlab. Library code throws these; only main() catches them and maps each to an
// exit code: 2 for usage/configuration errors, 1 for runtime failures. Libraries speak of config
// keys and of their options structs' fields; the CLI alone knows flags (cli/error_message.h).
#include <stdexcept>
#include <string>
#include <utility>

namespace fcnlab {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual int exit_code() const noexcept { return 1; }
};

// Bad command line (unknown option, missing argument).
class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 2; }
};

// A malformed or out-of-range value of an options struct (ReportOptions, SlurmOptions, ...).
// `option` is the field's name; what() reads "<option> <detail>", and the CLI names the flag.
class OptionError : public Error {
 public:
  OptionError(std::string option, std::string detail)
      : Error(option + " " + detail), option_(std::move(option)), detail_(std::move(detail)) {}
  const std::string& option() const noexcept { return option_; }
  const std::string& detail() const noexcept { return detail_; }
  int exit_code() const noexcept override { return 2; }

 private:
  std::string option_;
  std::string detail_;
};

// Bad configuration: unknown key, wrong type, value out of range, unreadable config file.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 2; }
};

// A problem with input data found at run time (undecodable image, bad label values, ...).
class DataError : public Error {
 public:
  using Error::Error;
};

// File-system or HDF5 failure while reading or writing results.
class IoError : public Error {
 public:
  using Error::Error;
};

// The run is being trained by another process (its lock is held): nothing was done.
class RunLockedError : public IoError {
 public:
  using IoError::IoError;
};

}  // namespace fcnlab
