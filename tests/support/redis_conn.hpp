// A minimal blocking Redis client for tests that look at Redis the way an operator would
// (redis-cli): XRANGE on an outbox, ZRANGE on a waiting line, GET of a lease, CLIENT KILL.
// Speaks RESP2 over one TCP connection; commands are sent as arrays of bulk strings.
//
// Failure: I/O errors, timeouts and malformed replies throw std::runtime_error; a Redis error
// reply is NOT an exception (RespValue::type == error) for the test to assert on.
// Thread safety: one object per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::testing {

struct RespValue {
  enum class Type { nil, status, error, integer, bulk, array };
  Type type = Type::nil;
  std::string str;  // status, error, bulk
  long long integer = 0;
  std::vector<RespValue> elements;

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
  // For failure messages.
  std::string Describe() const;
};

class RedisConn {
 public:
  // Connects to 127.0.0.1:port; throws std::runtime_error if that fails.
  explicit RedisConn(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  RespValue Command(const std::vector<std::string>& argv);

  // Conveniences. Throw on an error reply.
  std::optional<std::string> Get(const std::string& key);
  long long Int(const std::vector<std::string>& argv);

 private:
  void Fill();
  std::string Line();
  RespValue Read();

  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
};

}  // namespace anteroom::testing
