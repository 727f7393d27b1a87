#include "core/encoding.hpp"
#include "webhooks/dispatcher.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cmath>
#include <random>
#include <spdlog/spdlog.h>

#include "core/rules.hpp"
#include "webhooks/sender.hpp"

namespace anteroom {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {


std::string hmac_hex(const std::string& key, const std::string& msg) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string body_of(const Event& e) {
  json::object o{{"id", e.id()},
                 {"type", to_string(e.type)},
                 {"queue", e.queue},
                 {"ticket", e.ticket},
                 {"seq", e.seq},
                 {"at_ms", e.at_ms}};
  if (e.type == EventType::admitted) o["expires_at"] = e.expires_ms / 1000;
  return json::serialize(o);
}


}  // namespace

WebhookDispatcher::WebhookDispatcher(asio::io_context& io, QueueStore& store,
                                     WebhookJobStore& jobs, WebhookOptions opts,
                                     metrics::Registry& m)
    : store_(store),
      jobs_(jobs),
      opts_(opts),
      tls_(asio::ssl::context::tls_client),
      m_enqueued_(m.counter("webhook_events_total", "Events taken in for webhook delivery")),
      m_duplicates_(m.counter("webhook_duplicate_events_total", "Events already taken in before (not sent again)")),
      m_delivered_(m.counter("webhook_deliveries_total", "Webhook POSTs answered 2xx")),
      m_failed_attempts_(m.counter("webhook_failed_attempts_total", "Webhook POSTs that failed (retried)")),
      m_dead_(m.counter("webhook_dead_total", "Webhook jobs dead-lettered after the retry window")),
      tasks_(io.get_executor()) {
  tls_.set_default_verify_paths();
  tls_.set_verify_mode(asio::ssl::verify_peer);
}

WebhookDispatcher::~WebhookDispatcher() { tasks_.stop(); }

void WebhookDispatcher::start() { tasks_.spawn(worker()); }

void WebhookDispatcher::stop() { tasks_.stop(); }

void WebhookDispatcher::publish(const Event& e) {
  if (!rules::webhook_event(e.type) && e.type != EventType::config_changed) return;
  tasks_.spawn(take_in(e));
}

asio::awaitable<void> WebhookDispatcher::take_in(Event e) {
  // Nobody awaits the answer: a failed take-in is lost here, as the bus has no redelivery.
  (void)co_await accept(std::move(e));
}

asio::awaitable<Result<QueueConfig>> WebhookDispatcher::config_of(const std::string& q) {
  // One read per queue at a time: every process takes in every event in Redis-only mode, and a
  // burst of events (a tick admitting 500) arrives at once; reading the config for each of
  // them queued 500 store calls ahead of everything else this process asked of Redis.
  for (bool more = true; more;) {
    auto now = std::chrono::steady_clock::now();
    Cached& c = configs_[q];
    if (c.valid && now - c.at < std::chrono::seconds(1)) co_return c.config;
    more = c.reading != nullptr;
    if (!more) break;
    auto reading = c.reading;  // (the entry may be erased meanwhile: config_changed)
    boost::system::error_code ec;
    co_await reading->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (co_await async::cancelled()) co_return err(Errc::unavailable, "stopping");
  }
  auto now = std::chrono::steady_clock::now();
  auto reading = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
  configs_[q].reading = reading;
  auto info = co_await store_.get_queue(q);
  configs_[q].reading.reset();
  reading->cancel();  // the waiters look again: the config, or (read failed) one of them reads
  if (co_await async::cancelled()) co_return err(Errc::unavailable, "stopping");
  if (!info) co_return info.error();
  configs_[q] = {info->config, now, true, nullptr};
  co_return info->config;
}

asio::awaitable<Status> WebhookDispatcher::accept(Event e) {
  if (e.type == EventType::config_changed) {
    configs_.erase(e.queue);
    co_return Ok{};
  }
  if (!rules::webhook_event(e.type)) co_return Ok{};
  auto cfg = co_await config_of(e.queue);
  if (!cfg) co_return cfg.error().code == Errc::queue_not_found ? Status(Ok{}) : Status(cfg.error());
  if (cfg->webhooks.empty()) co_return Ok{};
  Millis now = wall_ms();
  std::string body = body_of(e);
  std::vector<WebhookJob> jobs;
  for (size_t i = 0; i < cfg->webhooks.size(); ++i) {
    WebhookJob j;
    j.id = e.id() + "#" + std::to_string(i);
    j.queue = e.queue;
    j.event_id = e.id();
    j.type = std::string(to_string(e.type));
    j.url = cfg->webhooks[i].url;
    j.secret = cfg->webhooks[i].secret;
    j.body = body;
    j.first_ms = now;
    jobs.push_back(std::move(j));
  }
  auto taken = co_await jobs_.enqueue(e.queue, e.id(), std::move(jobs), now);
  if (co_await async::cancelled()) co_return err(Errc::unavailable, "stopping");
  if (!taken) co_return taken.error();
  if (*taken) m_enqueued_.inc();
  else m_duplicates_.inc();
  co_return Ok{};
}

std::string WebhookDispatcher::receiver_of(const std::string& url) const {
  auto u = boost::urls::parse_uri(url);
  return u ? std::string(u->encoded_authority()) : url;
}

asio::awaitable<void> WebhookDispatcher::worker() {
  for (;;) {
    bool woke = co_await async::sleep_for(std::chrono::milliseconds(100));
    if (!woke) co_return;
    int64_t room = opts_.max_in_flight - in_flight_;
    if (room <= 0) continue;
    // A claimed job is ours while we POST it (lease > timeout); if we die, another process
    // takes it when the lease runs out.
    const Millis lease = 2 * opts_.timeout.count() + 1000;
    auto due = co_await jobs_.claim_due(wall_ms(), room, lease);
    if (co_await async::cancelled()) co_return;
    if (!due) continue;  // store unavailable: next round
    Millis now = wall_ms();
    for (auto& j : *due) {
      auto& busy = in_flight_by_receiver_[receiver_of(j.url)];
      if (busy >= opts_.per_receiver) {
        // That receiver is slow: its job waits a little; other receivers' jobs go on.
        (void)co_await jobs_.reschedule(j, now + 200);
        if (co_await async::cancelled()) co_return;
        continue;
      }
      ++busy;
      ++in_flight_;
      tasks_.spawn(deliver(std::move(j)));
    }
  }
}

asio::awaitable<void> WebhookDispatcher::deliver(WebhookJob j) {
  std::string receiver = receiver_of(j.url);
  std::vector<std::pair<std::string, std::string>> headers{{"Idempotency-Key", j.event_id},
                                                           {"X-Anteroom-Event", j.type}};
  if (!j.secret.empty()) {
    std::string t = std::to_string(wall_ms() / 1000);
    headers.emplace_back("X-Anteroom-Signature", "t=" + t + ",v1=" + hmac_hex(j.secret, t + "." + j.body));
  }
  auto r = co_await http_post(tls_, j.url, std::move(headers), j.body, opts_.timeout,
                                opts_.allow_private);
  if (co_await async::cancelled()) co_return;
  --in_flight_;
  if (--in_flight_by_receiver_[receiver] <= 0) in_flight_by_receiver_.erase(receiver);
  if (r.status >= 200 && r.status < 300) {
    m_delivered_.inc();
    (void)co_await jobs_.complete(std::move(j));
    co_return;
  }
  m_failed_attempts_.inc();
  ++j.attempts;
  j.last_error = r.status ? "HTTP " + std::to_string(r.status) : r.error;
  Millis now = wall_ms();
  Millis window_end = j.first_ms + opts_.retry_window.count();
  if (now >= window_end || r.refused) {
    m_dead_.inc();
    spdlog::warn("webhook {} to {} dead-lettered after {} attempts: {}", j.event_id, j.url,
                 j.attempts, j.last_error);
    (void)co_await jobs_.bury(std::move(j));
    co_return;
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  double base = static_cast<double>(opts_.backoff_min.count()) *
                std::pow(2.0, static_cast<double>(std::min<int64_t>(j.attempts - 1, 30)));
  const double cap = static_cast<double>(opts_.backoff_max.count());
  base = std::min(base, cap);
  // The maximum bounds the wait itself (docs: "longest wait between two attempts"), so the cap
  // applies after the jitter too: jitter alone would stretch a capped wait to 1.5 times it.
  double jittered = std::min(base * std::uniform_real_distribution<double>(0.5, 1.5)(rng), cap);
  Millis due = std::min(now + static_cast<Millis>(jittered), window_end);
  (void)co_await jobs_.reschedule(std::move(j), due);
}

}  // namespace anteroom
