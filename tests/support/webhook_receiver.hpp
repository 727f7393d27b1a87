// A real HTTP server inside the test process that receives webhooks: it records every POST
// (headers, body) and answers with a configurable status. It can be taken down (its port then
// refuses connections) and brought back on the same port.
// Thread safety: all public methods may be called from the test thread while it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace anteroom::testing {

struct ReceivedHook {
  std::string idempotency_key;
  std::string event;      // X-Anteroom-Event
  std::string signature;  // X-Anteroom-Signature
  std::string body;
  std::chrono::steady_clock::time_point at;  // when it arrived
};

class WebhookReceiver {
 public:
  WebhookReceiver();  // listens on a free loopback port
  ~WebhookReceiver();
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  void set_status(int status) { status_ = status; }
  void down();  // close the listener and every connection: the port refuses
  void up();    // listen again on the same port

  std::vector<ReceivedHook> received() const;
  size_t count() const;
  // How many times each Idempotency-Key was received (answered 2xx or not).
  std::map<std::string, int> by_key() const;
  // Answered with a 2xx, per key.
  std::map<std::string, int> accepted_by_key() const;

 private:
  void serve();
  std::uint16_t port_ = 0;
  std::atomic<int> status_{200};
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  mutable std::mutex mu_;
  std::vector<ReceivedHook> got_;
  std::vector<bool> accepted_;
  int listen_fd_ = -1;
  std::thread thread_;
};

// True if `signature` ("t=<unix>,v1=<hex>") is HMAC-SHA256(secret, "<t>.<body>").
bool ValidSignature(const std::string& signature, const std::string& secret,
                    const std::string& body);

}  // namespace anteroom::testing
