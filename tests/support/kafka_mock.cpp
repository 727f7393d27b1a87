#include "support/kafka_mock.hpp"

#include <signal.h>

#include <cstdlib>
#include <regex>
#include <stdexcept>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {

std::string KafkaMockBinary() {
  if (const char* env = std::getenv("KAFKA_MOCK_BINARY"); env != nullptr && *env != '\0') {
    return env;
  }
  std::string anteroom = AnteroomBinary();
  auto slash = anteroom.rfind('/');
  return (slash == std::string::npos ? std::string(".") : anteroom.substr(0, slash)) +
         "/kafka-mock";
}

KafkaMock::KafkaMock(int partitions, Deadline deadline) : partitions_(partitions) {
  Process::Options o;
  o.path = KafkaMockBinary();
  o.args = {"--partitions", std::to_string(partitions)};
  o.pipe_stdin = true;
  process_ = std::make_unique<Process>(std::move(o));
  static const std::regex kBrokers(R"(^BROKERS=(\S+)$)");
  auto m = process_->WaitForLine(kBrokers, deadline);
  if (!m) {
    throw std::runtime_error("kafka-mock printed no BROKERS line; stderr:\n" +
                             process_->StderrTail());
  }
  brokers_ = (*m)[1];
}

KafkaMock::~KafkaMock() {
  if (process_->Running()) {
    process_->WriteStdin("quit\n");
    if (!process_->WaitExit(DeadlineIn(std::chrono::seconds(5)))) {
      process_->Signal(SIGKILL);
      process_->WaitExit(DeadlineIn(std::chrono::seconds(5)));
    }
  }
}

bool KafkaMock::Command(const std::string& cmd, Deadline deadline) {
  if (!process_->WriteStdin(cmd + "\n")) return false;
  return process_->WaitForLine(std::regex("^ok " + cmd + "$"), deadline).has_value();
}

}  // namespace anteroom::testing
