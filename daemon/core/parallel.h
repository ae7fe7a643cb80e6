// RunConcurrently: a one-shot parallel loop for start-up work (compiling Hyperscan databases,
// parsing rule files), where the tasks are few, independent and of uneven size.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace chipwatch {

// Runs task(0) .. task(count - 1), each once, on up to hardware_concurrency threads (the caller's
// included), taking tasks in index order as threads become free. Returns when all have run. When
// no further thread can be started, the running ones do the work. An exception thrown by a task is
// rethrown here once all have run (the lowest-numbered task's).
template <typename Task>
void RunConcurrently(size_t count, const Task& task) {
  const size_t threads = std::min<size_t>(count, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::exception_ptr> failures(count);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        task(i);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;
    }
  }
  work();
  for (auto& thread : pool) thread.join();
  for (auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

}  // namespace chipwatch
