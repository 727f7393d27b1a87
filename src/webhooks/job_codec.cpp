#include <boost/json.hpp>

#include "webhooks/job_store.hpp"

namespace anteroom {

namespace json = boost::json;

std::string encode_job(const WebhookJob& j) {
  return json::serialize(json::object{{"id", j.id},
                                      {"queue", j.queue},
                                      {"event_id", j.event_id},
                                      {"type", j.type},
                                      {"url", j.url},
                                      {"secret", j.secret},
                                      {"body", j.body},
                                      {"attempts", j.attempts},
                                      {"first_ms", j.first_ms},
                                      {"last_error", j.last_error}});
}

Result<WebhookJob> decode_job(std::string_view s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object()) return err(Errc::internal, "stored webhook job is not JSON");
  const auto& o = v.as_object();
  try {
    WebhookJob j;
    j.id = json::value_to<std::string>(o.at("id"));
    j.queue = json::value_to<std::string>(o.at("queue"));
    j.event_id = json::value_to<std::string>(o.at("event_id"));
    j.type = json::value_to<std::string>(o.at("type"));
    j.url = json::value_to<std::string>(o.at("url"));
    j.secret = json::value_to<std::string>(o.at("secret"));
    j.body = json::value_to<std::string>(o.at("body"));
    j.attempts = o.at("attempts").to_number<int64_t>();
    j.first_ms = o.at("first_ms").to_number<int64_t>();
    j.last_error = json::value_to<std::string>(o.at("last_error"));
    return j;
  } catch (const std::exception& e) {
    return err(Errc::internal, std::string("stored webhook job is malformed: ") + e.what());
  }
}

}  // namespace anteroom
