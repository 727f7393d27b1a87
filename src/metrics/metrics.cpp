#include "metrics/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace anteroom::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<int64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

std::vector<int64_t> Histogram::counts() const {
  std::vector<int64_t> out(bounds_.size() + 1);
  int64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) out[i] = acc += counts_[i].load();
  return out;
}

Counter& Registry::counter(std::string name, std::string help, std::string labels) {
  std::lock_guard lk(mu_);
  Counter& c = counters_.emplace_back();
  entries_.push_back({"anteroom_" + name, std::move(help), std::move(labels), "counter", &c});
  return c;
}

Gauge& Registry::gauge(std::string name, std::string help, std::string labels) {
  std::lock_guard lk(mu_);
  Gauge& g = gauges_.emplace_back();
  Entry e{"anteroom_" + name, std::move(help), std::move(labels), "gauge"};
  e.gauge = &g;
  entries_.push_back(std::move(e));
  return g;
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  std::lock_guard lk(mu_);
  auto& h = histograms_.emplace_back(std::make_unique<Histogram>(std::move(bounds)));
  Entry e{"anteroom_" + name, std::move(help), "", "histogram"};
  e.histogram = h.get();
  entries_.push_back(std::move(e));
  return *h;
}

void Registry::gauge_fn(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard lk(mu_);
  Entry e{"anteroom_" + name, std::move(help), "", "gauge"};
  e.fn = std::move(fn);
  entries_.push_back(std::move(e));
}

void Registry::collector(std::function<void(std::string& out)> fn) {
  std::lock_guard lk(mu_);
  collectors_.push_back(std::move(fn));
}

std::optional<double> Registry::value(std::string_view name, std::string_view labels) const {
  std::lock_guard lk(mu_);
  for (const auto& e : entries_) {
    if (e.labels != labels || std::string_view(e.name).substr(9) != name) continue;
    if (e.counter) return double(e.counter->value());
    if (e.gauge) return e.gauge->value();
    if (e.fn) return e.fn();
  }
  return std::nullopt;
}

namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

std::string Registry::render() const {
  std::lock_guard lk(mu_);
  std::string out;
  std::set<std::string> described;
  for (const auto& e : entries_) {
    if (described.insert(e.name).second) {
      out += "# HELP " + e.name + " " + e.help + "\n";
      out += "# TYPE " + e.name + " " + e.type + "\n";
    }
    std::string lbl = e.labels.empty() ? "" : "{" + e.labels + "}";
    if (e.counter) {
      out += e.name + lbl + " " + std::to_string(e.counter->value()) + "\n";
    } else if (e.gauge) {
      out += e.name + lbl + " " + num(e.gauge->value()) + "\n";
    } else if (e.fn) {
      out += e.name + lbl + " " + num(e.fn()) + "\n";
    } else if (e.histogram) {
      auto counts = e.histogram->counts();
      const auto& b = e.histogram->bounds();
      for (size_t i = 0; i < b.size(); ++i)
        out += e.name + "_bucket{le=\"" + num(b[i]) + "\"} " + std::to_string(counts[i]) + "\n";
      out += e.name + "_bucket{le=\"+Inf\"} " + std::to_string(counts.back()) + "\n";
      out += e.name + "_sum " + num(e.histogram->sum()) + "\n";
      out += e.name + "_count " + std::to_string(counts.back()) + "\n";
    }
  }
  for (const auto& fn : collectors_) fn(out);
  return out;
}

}  // namespace anteroom::metrics
