// Reads a Kafka topic back from the beginning with a consumer of the test's own (its own group id,
// partitions assigned explicitly at the earliest offset, nothing committed), the way an auditor
// would: to check what anteroom's relay really put in Kafka.
//
// librdkafka is loaded at run time (dlopen of librdkafka.so.1, the library anteroom itself links)
// so the test support library needs no link dependency on it.
//
// Failure: throws std::runtime_error (librdkafka missing, metadata unavailable, deadline).
// Thread safety: ReadTopic may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace anteroom::testing {

struct KafkaRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

// Every message of `topic` up to each partition's high watermark as it is when the call starts,
// in partition order, then offset order.
std::vector<KafkaRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                   Deadline deadline = DeadlineIn(std::chrono::seconds(60)));

}  // namespace anteroom::testing
