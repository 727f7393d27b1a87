// The project's `kafka-mock` tool (librdkafka's mock cluster speaking the real Kafka protocol on
// loopback) as a child process of a test: its bootstrap list, and a Kafka outage on demand.
//
// The binary is $KAFKA_MOCK_BINARY if set, else `kafka-mock` next to the anteroom binary under
// test (both are built into the CMake binary directory).
//
// Lifetime: the constructor returns once the tool printed `BROKERS=...`, or throws
// std::runtime_error. The destructor asks it to quit and kills it by PID if it does not exit.
// Thread safety: Down()/Up() may be called from any thread, one at a time.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "support/process.hpp"

namespace anteroom::testing {

std::string KafkaMockBinary();

class KafkaMock {
 public:
  explicit KafkaMock(int partitions = 6, Deadline deadline = DeadlineIn(kPatience));
  ~KafkaMock();
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  // The bootstrap list for --kafka and for test consumers.
  const std::string& brokers() const { return brokers_; }
  int partitions() const { return partitions_; }
  pid_t pid() const { return process_->pid(); }

  // Every broker stops answering / answers again. True once the tool acknowledged the command.
  bool Down(Deadline deadline = DeadlineIn(kPatience)) { return Command("down", deadline); }
  bool Up(Deadline deadline = DeadlineIn(kPatience)) { return Command("up", deadline); }

 private:
  bool Command(const std::string& cmd, Deadline deadline);

  std::unique_ptr<Process> process_;
  std::string brokers_;
  int partitions_;
};

}  // namespace anteroom::testing
