#include "sink/stdout_sink.h"

#include <utility>

namespace chipwatch {

std::unique_ptr<Sink> CreateStdoutSink(int fd, std::function<void(const std::string&)> on_error) {
  FileSinkOptions options;
  options.on_error = std::move(on_error);
  return CreateStdoutSink(fd, std::move(options));
}

std::unique_ptr<Sink> CreateStdoutSink(int fd, FileSinkOptions options) {
  return CreateFdSink(fd, "stdout", /*sync=*/false, std::move(options));
}

}  // namespace chipwatch
