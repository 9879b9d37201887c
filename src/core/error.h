#pragma once
// Error types of fcnlab. Library code throws these; only main() catches them and maps each to an
// exit code: 2 for usage/configuration errors, 1 for runtime failures.
#include <stdexcept>
#include <string>

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
