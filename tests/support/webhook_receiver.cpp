#include "support/webhook_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace anteroom::testing {

namespace {

int listen_on(std::uint16_t port, std::uint16_t* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    throw std::runtime_error("webhook receiver: cannot listen");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (bound) *bound = ntohs(a.sin_port);
  return fd;
}

// Reads one HTTP/1.1 request (Content-Length bodies only) from fd; false on EOF/error/timeout.
bool read_request(int fd, std::string& head, std::string& body) {
  std::string buf;
  char chunk[4096];
  size_t header_end = std::string::npos;
  size_t need = 0;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = buf.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      head = buf.substr(0, header_end);
      std::string lower = head;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto cl = lower.find("content-length:");
      need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
    }
    if (buf.size() >= header_end + 4 + need) {
      body = buf.substr(header_end + 4, need);
      return true;
    }
  }
}

std::string header(const std::string& head, const std::string& name) {
  std::string lower = head, want = "\r\n" + name + ":";
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find(want);
  if (at == std::string::npos) return "";
  auto start = at + want.size();
  auto end = head.find("\r\n", start);
  std::string v = head.substr(start, end - start);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  return v;
}

}  // namespace

WebhookReceiver::WebhookReceiver() {
  listen_fd_ = listen_on(0, &port_);
  listening_ = true;
  thread_ = std::thread([this] { serve(); });
}

WebhookReceiver::~WebhookReceiver() {
  stop_ = true;
  thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::down() {
  std::lock_guard lk(mu_);
  listening_ = false;
}

void WebhookReceiver::up() {
  std::lock_guard lk(mu_);
  listening_ = true;
}

// One thread: accepts and answers one connection at a time (the server sends one POST per
// connection). Going down closes the listening socket so connects are refused.
void WebhookReceiver::serve() {
  while (!stop_) {
    bool want;
    {
      std::lock_guard lk(mu_);
      want = listening_;
    }
    if (want && listen_fd_ < 0) listen_fd_ = listen_on(port_, nullptr);
    if (!want && listen_fd_ >= 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
    if (listen_fd_ < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string head, body;
    if (read_request(c, head, body)) {
      int st = status_;
      {
        std::lock_guard lk(mu_);
        got_.push_back({header(head, "Idempotency-Key"), header(head, "X-Anteroom-Event"),
                        header(head, "X-Anteroom-Signature"), body,
                        std::chrono::steady_clock::now()});
        accepted_.push_back(st >= 200 && st < 300);
      }
      std::string resp = "HTTP/1.1 " + std::to_string(st) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, resp.data(), resp.size());
    }
    ::close(c);
  }
}

std::vector<ReceivedHook> WebhookReceiver::received() const {
  std::lock_guard lk(mu_);
  return got_;
}

size_t WebhookReceiver::count() const {
  std::lock_guard lk(mu_);
  return got_.size();
}

std::map<std::string, int> WebhookReceiver::by_key() const {
  std::lock_guard lk(mu_);
  std::map<std::string, int> m;
  for (auto& h : got_) ++m[h.idempotency_key];
  return m;
}

std::map<std::string, int> WebhookReceiver::accepted_by_key() const {
  std::lock_guard lk(mu_);
  std::map<std::string, int> m;
  for (size_t i = 0; i < got_.size(); ++i)
    if (accepted_[i]) ++m[got_[i].idempotency_key];
  return m;
}

bool ValidSignature(const std::string& sig, const std::string& secret, const std::string& body) {
  auto comma = sig.find(",v1=");
  if (sig.rfind("t=", 0) != 0 || comma == std::string::npos) return false;
  std::string t = sig.substr(2, comma - 2), mac = sig.substr(comma + 4);
  std::string msg = t + "." + body;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len);
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < len; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return mac == std::string(hex, 2 * len);
}

}  // namespace anteroom::testing
