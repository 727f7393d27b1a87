// kafka-mock: hosts librdkafka's mock Kafka cluster (it speaks the real Kafka protocol on
// loopback) so that tests and ./dev can run anteroom's Kafka pipeline without a broker.
//
//   kafka-mock [--brokers 3] [--partitions 6] [--topic queueing-system]
//
// Prints one line `BROKERS=<bootstrap list>` on stdout, then obeys lines on stdin:
//   down   every broker stops answering (a Kafka outage)
//   up     every broker answers again
//   quit   exit (also on end of input)
// Each command is acknowledged with a line `ok <command>`.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  int brokers = 3, partitions = 6;
  std::string topic = "queueing-system";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--brokers") brokers = std::atoi(argv[i + 1]);
    else if (a == "--partitions") partitions = std::atoi(argv[i + 1]);
    else if (a == "--topic") topic = argv[i + 1];
    else {
      std::fprintf(stderr, "kafka-mock: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (brokers < 1 || partitions < 1) {
    std::fprintf(stderr, "kafka-mock: --brokers and --partitions must be >= 1\n");
    return 2;
  }

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::fprintf(stderr, "kafka-mock: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
    return 1;
  }
  int rf = brokers >= 3 ? 3 : brokers;
  if (rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, rf) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka-mock: cannot create topic %s\n", topic.c_str());
    return 1;
  }
  std::printf("BROKERS=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "down" || line == "up") {
      for (int b = 1; b <= brokers; ++b) {
        if (line == "down") rd_kafka_mock_broker_set_down(mc, b);
        else rd_kafka_mock_broker_set_up(mc, b);
      }
    } else if (line == "quit") {
      std::printf("ok quit\n");
      std::fflush(stdout);
      break;
    } else if (line.empty()) {
      continue;
    } else {
      std::printf("error unknown command %s\n", line.c_str());
      std::fflush(stdout);
      continue;
    }
    std::printf("ok %s\n", line.c_str());
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
