#include "pipeline/relay.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <set>
#include <stdexcept>

#include "core/encoding.hpp"
#include "store/redis/keys.hpp"
#include "pipeline/slot_reads.hpp"
#include "store/redis/outbox.hpp"

namespace anteroom {

namespace asio = boost::asio;
using Argv = std::vector<std::string>;

namespace {
constexpr const char* kGroup = "relay";
constexpr int64_t kMaxInflight = 200'000;

const redis::RedisScript& renew_script() {
  static const redis::RedisScript s(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then "
      "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
      redis::RedisScript::Durability::unreplicated);
  return s;
}
const redis::RedisScript& release_script() {
  static const redis::RedisScript s(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
      "else return 0 end",
      redis::RedisScript::Durability::unreplicated);
  return s;
}

// When Redis appended the entry: the milliseconds part of its stream id ("<ms>-<n>").
Millis appended_ms(const std::string& id) {
  Millis ms = 0;
  std::from_chars(id.data(), id.data() + id.size(), ms);
  return ms;
}
}  // namespace

struct Relay::Owned {
  std::string cursor = "0-0";  // an id: still reading our pending history; ">": new entries
  bool rewind = false;         // a delivery failed: re-read pending once nothing is in flight
  int64_t inflight = 0;
  uint64_t epoch = 0;
};

struct Relay::Delivery {
  Relay* relay;
  std::string queue;
  std::string id;
  uint64_t epoch;
  Millis at;  // when Redis appended the entry (its stream id), for relay_lag_ms
};

Relay::Relay(asio::io_context& io, redis::RedisOptions ropts, kafka::KafkaOptions kopts,
             std::string node_id, metrics::Registry& m)
    : kopts_(std::move(kopts)),
      node_(std::move(node_id)),
      m_produced_(m.counter("relay_produced_total", "Outbox entries handed to the Kafka producer")),
      m_delivered_(m.counter("relay_delivered_total", "Outbox entries confirmed by Kafka and removed")),
      m_errors_(m.counter("relay_produce_errors_total", "Failed Kafka deliveries (entries stay in the outbox)")),
      m_claimed_(m.counter("relay_claimed_total", "Pending outbox entries claimed from another relay")),
      m_backlog_(m.gauge("outbox_backlog", "Outbox entries not yet confirmed by Kafka (queues this process relays)")),
      m_lag_ms_(m.gauge("relay_lag_ms", "Age of the newest event when Kafka confirmed it")),
      tasks_(io.get_executor()) {
  auto read_opts = ropts;
  read_opts.command_timeout = std::chrono::milliseconds(5000);
  reader_ = std::make_unique<redis::RedisClient>(io, read_opts);
  ctl_ = std::make_unique<redis::RedisClient>(io, ropts);

  auto conf = kafka::make_conf({{"bootstrap.servers", kopts_.brokers},
                                {"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"message.timeout.ms", "600000"},  // an outage waits, not fails
                                {"linger.ms", "1"},
                                // After an outage, reconnect within a second of Kafka's return
                                // (librdkafka's default backoff grows to 10 s, which held every
                                // waiting event, and visitors' admissions, back that long).
                                {"reconnect.backoff.max.ms", "1000"},
                                {"queue.buffering.max.messages", "1000000"},
                                {"partitioner", "murmur2_random"},
                                {"log_level", "4"}});
  if (!conf) throw std::runtime_error(conf.error().message);
  rd_kafka_conf_set_dr_msg_cb(*conf, &Relay::on_delivery);
  rd_kafka_conf_set_opaque(*conf, this);
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof errstr);
  if (!rk_) throw std::runtime_error(std::string("kafka producer: ") + errstr);
  topic_ = rd_kafka_topic_new(rk_, kopts_.topic.c_str(), nullptr);
  waker_ = std::make_unique<kafka::QueueWaker>(io, rd_kafka_queue_get_main(rk_));
}

Relay::~Relay() {
  tasks_.stop();
  waker_.reset();
  if (topic_) rd_kafka_topic_destroy(topic_);
  if (rk_) rd_kafka_destroy(rk_);
}

void Relay::start() {
  tasks_.spawn(lease_loop());
  tasks_.spawn(read_loop());
  tasks_.spawn(delivery_loop());
}

void Relay::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(m->_private);
  static_cast<Relay*>(opaque)->delivered(d, m->err);
}

void Relay::delivered(Delivery* d, rd_kafka_resp_err_t e) {
  std::unique_ptr<Delivery> own(d);
  --inflight_;
  auto it = owned_.find(d->queue);
  Owned* o = it != owned_.end() && it->second->epoch == d->epoch ? it->second.get() : nullptr;
  if (o) --o->inflight;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    m_delivered_.inc();
    m_lag_ms_.set(static_cast<double>(wall_ms() - d->at));
    to_ack_[d->queue].push_back(d->id);
    return;
  }
  m_errors_.inc();
  spdlog::warn("relay: delivery of {} {} failed: {}", d->queue, d->id, rd_kafka_err2str(e));
  if (o) o->rewind = true;
}

asio::awaitable<void> Relay::flush_acks() {
  auto acks = std::move(to_ack_);
  to_ack_.clear();
  for (auto& [q, ids] : acks) {
    Argv ack{"XACK", redis_keys::outbox(q), kGroup};
    Argv del{"XDEL", redis_keys::outbox(q)};
    for (auto& id : ids) {
      ack.push_back(id);
      del.push_back(id);
    }
    // Both may fail if Redis is down; the entries then stay pending and are produced again
    // later (a duplicate in Kafka, dropped by seq downstream). Never lost.
    (void)co_await ctl_->command(std::move(ack));
    (void)co_await ctl_->command(std::move(del));
  }
}

asio::awaitable<void> Relay::delivery_loop() {
  for (bool more = true; more;) {  // not for (;;): GCC 12 loses `this` (see README)
    co_await waker_->wait(std::chrono::milliseconds(100));
    if (co_await async::cancelled()) co_return;
    while (rd_kafka_poll(rk_, 0) > 0) {
    }
    co_await flush_acks();
  }
}

// Makes every pending entry of the queue's group idle for at least `min_idle_ms` ours
// (XAUTOCLAIM, in pages). Returns false if a call failed (or the relay stops); `claimed` counts.
asio::awaitable<bool> Relay::claim(std::string q, int64_t min_idle_ms, int64_t* claimed) {
  std::string cursor = "0-0";
  for (bool more = true; more;) {
    Argv argv{"XAUTOCLAIM", redis_keys::outbox(q), kGroup, node_, std::to_string(min_idle_ms),
              cursor, "COUNT", "1000", "JUSTID"};
    auto r = co_await ctl_->command(std::move(argv));
    if (co_await async::cancelled()) co_return false;
    if (!r || !r->is_array() || r->elements.size() < 2) co_return false;
    auto n = static_cast<int64_t>(r->elements[1].elements.size());
    m_claimed_.inc(n);
    if (claimed) *claimed += n;
    cursor = r->elements[0].str;
    more = cursor != "0-0";
  }
  co_return true;
}

// Entries another consumer of the group read and never confirmed stay pending under its name,
// and no ">" read returns them again: a relay that lost the lease while a read was in flight, or
// read on before it noticed (its renewals failing while a failover is under way). The holder
// claims them once idle for a lease and reads its pending history again, so they reach Kafka
// (twice at worst: consumers drop the second by seq). One XPENDING summary per relayed queue per
// lease round; the claim only when another consumer holds entries.
asio::awaitable<void> Relay::claim_stale(std::string q) {
  Argv summary{"XPENDING", redis_keys::outbox(q), kGroup};
  auto p = co_await ctl_->command(std::move(summary));
  if (co_await async::cancelled()) co_return;
  if (!p || !p->is_array() || p->elements.size() < 4 || !p->elements[3].is_array()) co_return;
  bool others = false;
  for (auto& consumer : p->elements[3].elements)
    if (!consumer.elements.empty() && consumer.elements[0].str != node_) others = true;
  if (!others) co_return;
  int64_t claimed = 0;
  (void)co_await claim(q, kLeaseMs, &claimed);
  if (claimed == 0) co_return;
  spdlog::warn("relay: claimed {} entries of queue {} left pending by another relay", claimed, q);
  if (auto it = owned_.find(q); it != owned_.end()) it->second->rewind = true;
}

asio::awaitable<void> Relay::take_over(std::string q) {
  Argv create{"XGROUP", "CREATE", redis_keys::outbox(q), kGroup, "0", "MKSTREAM"};
  auto c = co_await ctl_->command(std::move(create));
  if (co_await async::cancelled()) co_return;
  if (!c || (c->is_error() && c->str.rfind("BUSYGROUP", 0) != 0)) co_return;
  if (!co_await claim(q, 0)) co_return;
  auto& o = owned_[q];
  uint64_t epoch = o ? o->epoch + 1 : 1;
  o = std::make_unique<Owned>();
  o->epoch = epoch;
  spdlog::info("relay: now relaying queue {}", q);
}

asio::awaitable<void> Relay::lease_loop() {
  for (bool more = true; more;) {  // not for (;;): GCC 12 loses `this` (see README)
    Argv smembers{"SMEMBERS", std::string(redis_keys::kQueues)};
    auto names = co_await ctl_->command(std::move(smembers));
    if (co_await async::cancelled()) co_return;
    if (names && names->is_array()) {
      double backlog = 0;
      for (auto& n : names->elements) {
        const std::string& q = n.str;
        if (owned_.count(q)) {
          Argv keys{redis_keys::relay_lease(q)}, args{node_, std::to_string(kLeaseMs)};
          auto r = co_await ctl_->eval(renew_script(), std::move(keys), std::move(args));
          if (co_await async::cancelled()) co_return;
          if (r && r->as_int().value_or(0) == 0) {
            spdlog::warn("relay: lost the lease of queue {}", q);
            owned_.erase(q);
            continue;
          }
          co_await claim_stale(q);
          if (co_await async::cancelled()) co_return;
          Argv xlen{"XLEN", redis_keys::outbox(q)};
          auto len = co_await ctl_->command(std::move(xlen));
          if (co_await async::cancelled()) co_return;
          int64_t l = len ? len->as_int().value_or(0) : 0;
          backlog += static_cast<double>(l);
          if (l > kOutboxAlarm)
            spdlog::error("ALARM relay: outbox of {} holds {} unconfirmed events (is Kafka down?)", q, l);
        } else {
          Argv set{"SET", redis_keys::relay_lease(q), node_, "NX", "PX", std::to_string(kLeaseMs)};
          auto r = co_await ctl_->command(std::move(set));
          if (co_await async::cancelled()) co_return;
          if (r && r->type == redis::RedisReply::Type::status && r->str == "OK") co_await take_over(q);
          if (co_await async::cancelled()) co_return;
        }
      }
      m_backlog_.set(backlog);
      co_await let_go_of_forgotten(*names);
      if (co_await async::cancelled()) co_return;
    }
    bool slept = co_await async::sleep_for(std::chrono::milliseconds(1000));
    if (!slept) co_return;
  }
}

// A queue no longer listed was forgotten by the store (closed, its sessions over). Its outbox
// stays until it expires (store/README.md); once all of it is confirmed (empty, nothing in
// flight) the relay stops reading it and gives its lease up: reading it after it expired would
// fail with NOGROUP. Not yet empty (Kafka down), it is read on. Made again, the queue is listed
// again and taken over as any queue.
asio::awaitable<void> Relay::let_go_of_forgotten(const redis::RedisReply& names) {
  std::set<std::string> listed;
  for (auto& n : names.elements) listed.insert(n.str);
  std::vector<std::string> unlisted;
  for (auto& [q, o] : owned_)
    if (!listed.count(q) && o->inflight == 0 && !o->rewind) unlisted.push_back(q);
  for (auto& q : unlisted) {
    Argv xlen{"XLEN", redis_keys::outbox(q)};
    auto len = co_await ctl_->command(std::move(xlen));
    if (co_await async::cancelled()) co_return;
    if (!len || len->as_int().value_or(1) != 0) continue;
    auto it = owned_.find(q);
    if (it == owned_.end() || it->second->inflight > 0) continue;
    owned_.erase(it);
    spdlog::info("relay: queue {} is gone and its outbox confirmed: no longer relaying it", q);
    Argv keys{redis_keys::relay_lease(q)}, args{node_};
    (void)co_await ctl_->eval(release_script(), std::move(keys), std::move(args));
    if (co_await async::cancelled()) co_return;
  }
}

// The one read of a group of outboxes: all of this relay's (standalone, BLOCK) or those of one
// slot (cluster, no BLOCK). (What a read took stays pending in the group: the next holder
// produces it.)
asio::awaitable<Result<redis::RedisReply>> Relay::read_group(Argv keys, Argv ids, bool block) {
  auto argv = slot_reads::streams_argv({"XREADGROUP", "GROUP", kGroup, node_, "COUNT", "1000"},
                                       block ? 200 : 0, std::move(keys), std::move(ids));
  // Paired with WAIT under --redis-wait-replicas: the read is a write (the group's pending list)
  // made after every entry it returns, so once a replica has it, the entries are there too and
  // Kafka never gets an event a failover could take back (docs/distributed.md).
  co_return co_await reader_->command_replicated(std::move(argv));
}

// Hands the entries of one read's reply to the producer; counts them per queue into `seen`.
// Returns how many entries the reply held.
size_t Relay::produce(const redis::RedisReply& r, std::map<std::string, size_t>& seen) {
  size_t n = 0;
  for (auto& stream : r.elements) {
    std::string q(redis_keys::queue_of(stream.elements[0].str));
    n += stream.elements[1].elements.size();
    auto it = owned_.find(q);
    if (it == owned_.end()) continue;
    Owned& o = *it->second;
    seen[q] = stream.elements[1].elements.size();
    for (auto& entry : stream.elements[1].elements) {
      const std::string& id = entry.elements[0].str;
      if (o.cursor != ">") o.cursor = id;
      if (entry.elements.size() < 2 || !entry.elements[1].is_array()) {
        to_ack_[q].push_back(id);  // deleted while pending: just clear it from the group
        continue;
      }
      // The event's bytes as the script encoded them go to Kafka untouched (never decoded
      // here): the relay moves events, it does not read them.
      const std::string* value = redis::outbox_event_bytes(entry.elements[1]);
      if (!value) {
        spdlog::error("relay: outbox entry {} {} has no event field", q, id);
        continue;
      }
      auto* d = new Delivery{this, q, id, o.epoch, appended_ms(id)};
      if (rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                           const_cast<char*>(value->data()), value->size(), q.data(), q.size(),
                           d) != 0) {
        delete d;
        m_errors_.inc();
        o.rewind = true;  // produce it again, in order, once the producer has room
        break;
      }
      m_produced_.inc();
      ++inflight_;
      ++o.inflight;
    }
  }
  return n;
}

asio::awaitable<void> Relay::read_loop() {
  const bool cluster = reader_->options().cluster;
  for (bool more = true; more;) {  // not for (;;): GCC 12 loses `this` (see README)
    Argv keys, ids;
    for (auto& [q, o] : owned_) {
      if (o->rewind) {
        if (o->inflight > 0) continue;
        o->rewind = false;
        o->cursor = "0-0";
        ++o->epoch;
      }
      keys.push_back(redis_keys::outbox(q));
      ids.push_back(o->cursor);
    }
    if (keys.empty() || inflight_ > kMaxInflight) {
      bool slept = co_await async::sleep_for(std::chrono::milliseconds(20));
      if (!slept) co_return;
      continue;
    }
    // Standalone: one blocking read of every outbox. Cluster: one read per slot that is due
    // (slot_reads.hpp), all at once, none blocking.
    std::vector<int> slots, asked;
    std::vector<asio::awaitable<Result<redis::RedisReply>>> calls;
    std::vector<Argv> called;  // the outboxes each call reads
    const auto now = slot_reads::Clock::now();
    if (!cluster) {
      called.push_back(keys);
      calls.push_back(read_group(std::move(keys), std::move(ids), /*block=*/true));
    } else {
      for (auto& [slot, at] : slot_reads::by_slot(keys)) {
        slots.push_back(slot);
        if (!poll_.due(slot, now)) continue;
        Argv k, i;
        for (size_t x : at) {
          k.push_back(keys[x]);
          i.push_back(ids[x]);
        }
        asked.push_back(slot);
        called.push_back(k);
        calls.push_back(read_group(std::move(k), std::move(i), /*block=*/false));
      }
      poll_.keep_only(slots);
      if (calls.empty()) {
        bool slept = co_await async::sleep_until(poll_.next(slots, now));
        if (!slept) co_return;
        continue;
      }
    }
    auto replies = co_await slot_reads::all(tasks_, std::move(calls));
    if (co_await async::cancelled()) co_return;
    std::map<std::string, size_t> seen;
    size_t failed = 0;
    const auto after = slot_reads::Clock::now();
    for (size_t x = 0; x < replies.size(); ++x) {
      auto& r = replies[x];
      size_t got = 0;
      if (!r || r->is_error()) {
        ++failed;
        if (r && r->str.rfind("NOGROUP", 0) == 0) owned_.clear();  // Redis lost it: take over anew
        // The read may have run all the same (its reply lost with the connection, or its WAIT
        // timed out): what it took is pending in the group, and a ">" read never returns it.
        // Read the queues' pending entries again once nothing of theirs is in flight.
        for (auto& k : called[x])
          if (auto it = owned_.find(std::string(redis_keys::queue_of(k))); it != owned_.end())
            it->second->rewind = true;
      } else if (r->is_array()) {  // (nil: timed out, nothing new)
        got = produce(*r, seen);
      }
      if (cluster) poll_.read(asked[x], got > 0, after);
    }
    // A history read that came back empty: our pending entries are all in flight; go on with new.
    for (auto& [q, o] : owned_)
      if (o->cursor != ">" && !o->rewind && seen.count(q) && seen[q] == 0) o->cursor = ">";
    if (failed > 0 && failed == replies.size()) {
      bool slept = co_await async::sleep_for(std::chrono::milliseconds(100));
      if (!slept) co_return;
    }
  }
}

asio::awaitable<void> Relay::stop(std::chrono::milliseconds grace) {
  tasks_.stop();  // the loops end now: waits at once, a Redis call in progress when it answers
  auto deadline = std::chrono::steady_clock::now() + grace;
  while ((inflight_ > 0 || tasks_.running() > 0) && std::chrono::steady_clock::now() < deadline) {
    while (rd_kafka_poll(rk_, 0) > 0) {
    }
    co_await flush_acks();
    (void)co_await async::sleep_for(std::chrono::milliseconds(10));
  }
  while (rd_kafka_poll(rk_, 0) > 0) {
  }
  co_await flush_acks();
  for (auto& [q, _] : owned_) {
    Argv keys{redis_keys::relay_lease(q)}, args{node_};
    (void)co_await ctl_->eval(release_script(), std::move(keys), std::move(args));
  }
  owned_.clear();
}

}  // namespace anteroom
