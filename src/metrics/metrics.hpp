#pragma once
// Prometheus metrics, one registry per process. Components register their counters once at
// construction (their "probe") and bump them on hot paths without locks. Rendering is rare.
//
// Counter/Gauge are thread-safe (atomics). Registration and render() take a mutex.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

namespace anteroom::metrics {

class Counter {
 public:
  void inc(int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.store(value() + d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Fixed buckets (upper bounds, in the unit of the metric). Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<int64_t> counts() const;  // cumulative per bound, then +Inf
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

class Registry {
 public:
  // Names get the "anteroom_" prefix. `labels` is a Prometheus label set without braces,
  // e.g. `reason="rate"`; the same name may be registered with several label sets.
  Counter& counter(std::string name, std::string help, std::string labels = "");
  Gauge& gauge(std::string name, std::string help, std::string labels = "");
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);
  // A gauge computed at render time (e.g. a queue length).
  void gauge_fn(std::string name, std::string help, std::function<double()> fn);

  // Metric families written by their owner at render time (e.g. one series per queue): `fn`
  // appends complete exposition text (# HELP, # TYPE and samples, names with the prefix).
  // Called under the registry's lock, on the thread that renders: it must not call back in.
  void collector(std::function<void(std::string& out)> fn);

  // The current value of a registered counter, gauge or gauge_fn (`name` without the prefix,
  // `labels` as registered), or nullopt if none is registered. For a process's own figures
  // shown elsewhere (the dashboard's row of this process).
  std::optional<double> value(std::string_view name, std::string_view labels = "") const;

  std::string render() const;

 private:
  struct Entry {
    std::string name, help, labels, type;
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    Histogram* histogram = nullptr;
    std::function<double()> fn;
  };
  mutable std::mutex mu_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<std::unique_ptr<Histogram>> histograms_;
  std::vector<Entry> entries_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

}  // namespace anteroom::metrics
