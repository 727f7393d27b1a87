#include "support/redis_conn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace anteroom::testing {

std::string RespValue::Describe() const {
  switch (type) {
    case Type::nil:
      return "(nil)";
    case Type::status:
      return "+" + str;
    case Type::error:
      return "-" + str;
    case Type::integer:
      return "(integer) " + std::to_string(integer);
    case Type::bulk:
      return "\"" + str + "\"";
    case Type::array: {
      std::string s = "[";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) s += ", ";
        if (i == 20) return s + "... " + std::to_string(elements.size()) + " elements]";
        s += elements[i].Describe();
      }
      return s + "]";
    }
  }
  return "?";
}

RedisConn::RedisConn(int port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot connect to redis on port " + std::to_string(port) + ": " +
                             why);
  }
}

RedisConn::~RedisConn() {
  if (fd_ >= 0) ::close(fd_);
}

RespValue RedisConn::Command(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("redis send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  RespValue v = Read();
  buf_.erase(0, pos_);
  pos_ = 0;
  return v;
}

std::optional<std::string> RedisConn::Get(const std::string& key) {
  RespValue v = Command({"GET", key});
  if (v.is_error()) throw std::runtime_error("GET " + key + ": " + v.str);
  if (v.is_nil()) return std::nullopt;
  return v.str;
}

long long RedisConn::Int(const std::vector<std::string>& argv) {
  RespValue v = Command(argv);
  if (v.type != RespValue::Type::integer) {
    throw std::runtime_error(argv.empty() ? "empty command" : argv[0] + ": " + v.Describe());
  }
  return v.integer;
}

void RedisConn::Fill() {
  char tmp[65536];
  ssize_t n;
  do {
    n = ::recv(fd_, tmp, sizeof tmp, 0);
  } while (n < 0 && errno == EINTR);
  if (n == 0) throw std::runtime_error("redis closed the connection");
  if (n < 0) throw std::runtime_error(std::string("redis recv: ") + std::strerror(errno));
  buf_.append(tmp, static_cast<std::size_t>(n));
}

std::string RedisConn::Line() {
  std::size_t end;
  while ((end = buf_.find("\r\n", pos_)) == std::string::npos) Fill();
  std::string line = buf_.substr(pos_, end - pos_);
  pos_ = end + 2;
  return line;
}

RespValue RedisConn::Read() {
  std::string line = Line();
  if (line.empty()) throw std::runtime_error("empty RESP line");
  RespValue v;
  std::string rest = line.substr(1);
  switch (line[0]) {
    case '+':
      v.type = RespValue::Type::status;
      v.str = rest;
      return v;
    case '-':
      v.type = RespValue::Type::error;
      v.str = rest;
      return v;
    case ':':
      v.type = RespValue::Type::integer;
      v.integer = std::stoll(rest);
      return v;
    case '$': {
      long long len = std::stoll(rest);
      if (len < 0) return v;  // nil
      while (buf_.size() < pos_ + static_cast<std::size_t>(len) + 2) Fill();
      v.type = RespValue::Type::bulk;
      v.str = buf_.substr(pos_, static_cast<std::size_t>(len));
      pos_ += static_cast<std::size_t>(len) + 2;
      return v;
    }
    case '*': {
      long long n = std::stoll(rest);
      if (n < 0) return v;  // nil array
      v.type = RespValue::Type::array;
      v.elements.reserve(static_cast<std::size_t>(n));
      for (long long i = 0; i < n; ++i) v.elements.push_back(Read());
      return v;
    }
  }
  throw std::runtime_error("malformed RESP line: " + line);
}

}  // namespace anteroom::testing
