#include "support/kafka_reader.hpp"

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

namespace anteroom::testing {
namespace {

// The librdkafka functions used here, resolved once from the shared library. The types come
// from the header, so a signature mismatch is a compile error.
struct Rdk {
#define ANTEROOM_RDK_FN(name) decltype(&::name) name = nullptr
  ANTEROOM_RDK_FN(rd_kafka_conf_new);
  ANTEROOM_RDK_FN(rd_kafka_conf_set);
  ANTEROOM_RDK_FN(rd_kafka_conf_destroy);
  ANTEROOM_RDK_FN(rd_kafka_new);
  ANTEROOM_RDK_FN(rd_kafka_destroy);
  ANTEROOM_RDK_FN(rd_kafka_poll_set_consumer);
  ANTEROOM_RDK_FN(rd_kafka_metadata);
  ANTEROOM_RDK_FN(rd_kafka_metadata_destroy);
  ANTEROOM_RDK_FN(rd_kafka_query_watermark_offsets);
  ANTEROOM_RDK_FN(rd_kafka_topic_partition_list_new);
  ANTEROOM_RDK_FN(rd_kafka_topic_partition_list_add);
  ANTEROOM_RDK_FN(rd_kafka_topic_partition_list_destroy);
  ANTEROOM_RDK_FN(rd_kafka_assign);
  ANTEROOM_RDK_FN(rd_kafka_consumer_poll);
  ANTEROOM_RDK_FN(rd_kafka_message_destroy);
  ANTEROOM_RDK_FN(rd_kafka_consumer_close);
  ANTEROOM_RDK_FN(rd_kafka_err2str);
#undef ANTEROOM_RDK_FN
};

const Rdk& rdk() {
  static Rdk fns;
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    void* h = ::dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      error = std::string("cannot load librdkafka.so.1: ") + ::dlerror();
      return;
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      if (fn == nullptr && error.empty()) error = std::string("librdkafka lacks ") + name;
    };
#define ANTEROOM_RDK_LOAD(name) load(fns.name, #name)
    ANTEROOM_RDK_LOAD(rd_kafka_conf_new);
    ANTEROOM_RDK_LOAD(rd_kafka_conf_set);
    ANTEROOM_RDK_LOAD(rd_kafka_conf_destroy);
    ANTEROOM_RDK_LOAD(rd_kafka_new);
    ANTEROOM_RDK_LOAD(rd_kafka_destroy);
    ANTEROOM_RDK_LOAD(rd_kafka_poll_set_consumer);
    ANTEROOM_RDK_LOAD(rd_kafka_metadata);
    ANTEROOM_RDK_LOAD(rd_kafka_metadata_destroy);
    ANTEROOM_RDK_LOAD(rd_kafka_query_watermark_offsets);
    ANTEROOM_RDK_LOAD(rd_kafka_topic_partition_list_new);
    ANTEROOM_RDK_LOAD(rd_kafka_topic_partition_list_add);
    ANTEROOM_RDK_LOAD(rd_kafka_topic_partition_list_destroy);
    ANTEROOM_RDK_LOAD(rd_kafka_assign);
    ANTEROOM_RDK_LOAD(rd_kafka_consumer_poll);
    ANTEROOM_RDK_LOAD(rd_kafka_message_destroy);
    ANTEROOM_RDK_LOAD(rd_kafka_consumer_close);
    ANTEROOM_RDK_LOAD(rd_kafka_err2str);
#undef ANTEROOM_RDK_LOAD
  });
  if (!error.empty()) throw std::runtime_error(error);
  return fns;
}

int MsLeft(Deadline deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 1, 5000));
}

}  // namespace

std::vector<KafkaRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                   Deadline deadline) {
  const Rdk& k = rdk();
  static std::atomic<int> readers{0};
  std::string group =
      "anteroom-test-reader-" + std::to_string(::getpid()) + "-" + std::to_string(readers++);
  char errstr[512];
  rd_kafka_conf_t* conf = k.rd_kafka_conf_new();
  for (auto [name, value] : {std::pair<const char*, std::string>{"bootstrap.servers", brokers},
                             {"group.id", group},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"auto.offset.reset", "earliest"},
                             {"log_level", "3"}}) {
    if (k.rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      k.rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("kafka reader setting ") + name + ": " + errstr);
    }
  }
  rd_kafka_t* rk = k.rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    k.rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka reader: ") + errstr);
  }
  k.rd_kafka_poll_set_consumer(rk);
  struct Cleanup {
    const Rdk& k;
    rd_kafka_t* rk;
    ~Cleanup() {
      k.rd_kafka_consumer_close(rk);
      k.rd_kafka_destroy(rk);
    }
  } cleanup{k, rk};

  // Partitions of the topic and where each ends now.
  std::map<int32_t, int64_t> end;  // partition -> high watermark
  while (true) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = k.rd_kafka_metadata(rk, 1, nullptr, &md, MsLeft(deadline));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (topic != md->topics[i].topic || md->topics[i].err) continue;
        for (int p = 0; p < md->topics[i].partition_cnt; ++p)
          end[md->topics[i].partitions[p].id] = -1;
      }
      k.rd_kafka_metadata_destroy(md);
      if (!end.empty()) break;
    }
    if (Clock::now() >= deadline) {
      throw std::runtime_error("kafka reader: no metadata for topic " + topic + ": " +
                               k.rd_kafka_err2str(e));
    }
  }
  for (auto& [p, hi] : end) {
    int64_t lo = 0;
    rd_kafka_resp_err_t e;
    while ((e = k.rd_kafka_query_watermark_offsets(
                rk, topic.c_str(), p, &lo, &hi, MsLeft(deadline))) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (Clock::now() >= deadline) {
        throw std::runtime_error("kafka reader: watermarks of " + topic + "/" + std::to_string(p) +
                                 ": " + k.rd_kafka_err2str(e));
      }
    }
  }

  rd_kafka_topic_partition_list_t* parts =
      k.rd_kafka_topic_partition_list_new(static_cast<int>(end.size()));
  for (auto& [p, hi] : end) {
    if (hi > 0)
      k.rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t ae = k.rd_kafka_assign(rk, parts);
  k.rd_kafka_topic_partition_list_destroy(parts);
  if (ae) throw std::runtime_error(std::string("kafka reader: assign: ") + k.rd_kafka_err2str(ae));

  std::map<int32_t, std::vector<KafkaRecord>> by_partition;
  auto done = [&] {
    for (auto& [p, hi] : end) {
      auto it = by_partition.find(p);
      int64_t next =
          it == by_partition.end() || it->second.empty() ? 0 : it->second.back().offset + 1;
      if (next < hi) return false;
    }
    return true;
  };
  while (!done()) {
    if (Clock::now() >= deadline) {
      std::string where;
      for (auto& [p, hi] : end) {
        auto& v = by_partition[p];
        where +=
            " p" + std::to_string(p) + ":" + std::to_string(v.size()) + "/" + std::to_string(hi);
      }
      throw std::runtime_error("kafka reader: deadline before the end of " + topic + ":" + where);
    }
    rd_kafka_message_t* m = k.rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < end[m->partition]) {
      KafkaRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      by_partition[m->partition].push_back(std::move(r));
    }
    k.rd_kafka_message_destroy(m);
  }
  std::vector<KafkaRecord> all;
  for (auto& [p, v] : by_partition) all.insert(all.end(), v.begin(), v.end());
  return all;
}

}  // namespace anteroom::testing
