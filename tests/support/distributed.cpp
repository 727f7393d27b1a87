#include "support/distributed.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "support/json_util.hpp"

namespace anteroom::testing {

std::optional<double> MetricValue(const AnteroomProcess& p, std::string_view name) {
  HttpResponse r;
  try {
    r = p.Metrics();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (r.status != 200) return std::nullopt;
  std::optional<double> sum;
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t end = line.find_first_of("{ ");
    if (end == std::string::npos || std::string_view(line).substr(0, end) != name) continue;
    std::size_t value_at = line.find(' ', line[end] == '{' ? line.find('}', end) : end);
    if (value_at == std::string::npos) continue;
    try {
      sum = sum.value_or(0) + std::stod(line.substr(value_at + 1));
    } catch (const std::exception&) {
    }
  }
  return sum;
}

void StopAndCheck(const std::vector<AnteroomProcess*>& processes, Deadline deadline) {
  // SIGTERM to all first: they shut down side by side, as in a rolling deployment.
  for (AnteroomProcess* p : processes)
    if (p != nullptr) p->BeginStop();
  for (AnteroomProcess* p : processes)
    if (p != nullptr) p->StopAndCheck(deadline);
}

std::vector<OutboxEvent> ReadOutbox(RedisConn& redis, const std::string& queue) {
  std::vector<OutboxEvent> out;
  std::string key = "aq:{" + queue + "}:outbox";
  std::string from = "-";
  while (true) {
    RespValue r = redis.Command({"XRANGE", key, from, "+", "COUNT", "5000"});
    if (r.type != RespValue::Type::array) {
      ADD_FAILURE() << "XRANGE " << key << ": " << r.Describe();
      return out;
    }
    if (r.elements.empty()) break;
    for (const RespValue& entry : r.elements) {
      OutboxEvent e;
      e.stream_id = entry.elements.at(0).str;
      const auto& fields = entry.elements.at(1).elements;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str != "event") continue;
        // The event's one wire form (src/core/event_codec.hpp), read as plain JSON here.
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(fields[i + 1].str, ec);
        if (ec) {
          ADD_FAILURE() << "outbox entry " << e.stream_id << " is not JSON: " << fields[i + 1].str;
          continue;
        }
        e.seq = Int(v, "seq").value_or(0);
        e.type = Str(v, "type");
        e.ticket = Str(v, "ticket");
        e.order = Int(v, "order").value_or(0);
      }
      out.push_back(std::move(e));
    }
    from = "(" + out.back().stream_id;
  }
  return out;
}

std::map<std::string, long long> WaitingLine(RedisConn& redis, const std::string& queue) {
  std::map<std::string, long long> line;
  RespValue r = redis.Command({"ZRANGE", "aq:{" + queue + "}:wait", "0", "-1"});
  if (r.type != RespValue::Type::array) {
    ADD_FAILURE() << "ZRANGE of the waiting line of " << queue << ": " << r.Describe();
    return line;
  }
  long long pos = 0;
  for (const RespValue& id : r.elements) line[id.str] = ++pos;
  return line;
}

}  // namespace anteroom::testing
