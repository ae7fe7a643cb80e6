// BoundedQueue: a blocking multi-producer multi-consumer FIFO with a fixed capacity.
//
// Push blocks while the queue is full (backpressure: producers slow down, nothing is dropped);
// Pop blocks while it is empty. Close() wakes everyone: Push then fails and Pop drains what is left
// before returning nullopt. WaitForRoom() lets a producer that can hold back (a Kafka poll thread,
// whose backlog waits in librdkafka) stay far below the capacity. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace chipwatch {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Returns false when the queue was closed.
  bool Push(T item) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  std::optional<T> Pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    if (room_waiters_ > 0 && items_.size() <= room_below_) room_.notify_all();
    return item;
  }

  // True at once when fewer than `limit` items wait (or the queue is closed); else waits up to
  // `timeout` until at most half of `limit` wait (so that a waiting producer is woken once per
  // batch, not once per item) and returns whether that happened.
  bool WaitForRoom(size_t limit, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (items_.size() < limit || closed_) return true;
    ++room_waiters_;
    room_below_ = limit / 2;
    const bool room =
        room_.wait_for(lock, timeout, [&] { return closed_ || items_.size() <= limit / 2; });
    --room_waiters_;
    return room;
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
    room_.notify_all();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::condition_variable room_;
  std::deque<T> items_;      // guarded by mu_
  size_t room_waiters_ = 0;  // guarded by mu_
  size_t room_below_ = 0;    // guarded by mu_
  bool closed_ = false;      // guarded by mu_
};

}  // namespace chipwatch
