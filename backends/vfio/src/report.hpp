// Reporter: how the backend's sources record a failure (not installed). The text goes to
// the caller's Failure (a Platform's or a Container's), and its first line to the log.
#pragma once

#include <string>
#include <utility>

#include "fbnic/base/log.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/vfio/options.hpp"
#include "fbnic/vfio/problem.hpp"

namespace fbnic::vfio::detail {

// Logs a line through the sink of these options (stderr at log_level when none).
void log_line(const Options& options, LogLevel level, const char* line);

class Reporter {
 public:
  // subject: "vfio 0000:01:00.0" or "vfio container"
  Reporter(Failure& failure, const Options& options, std::string subject)
      : failure_(failure), options_(options), subject_(std::move(subject)) {}

  Status fail(Problem problem, Status status, const std::string& what, std::string fix = {});
  // An unexpected errno from `call`; EPERM/EACCES are explained as permission problems.
  Status fail_errno(const char* call, int err);
  void log(LogLevel level, const char* line) const { log_line(options_, level, line); }

 private:
  Failure& failure_;
  const Options& options_;
  std::string subject_;
};

}  // namespace fbnic::vfio::detail
